#pragma once

#include "chartdata.h"

#include <QChartView>
#include <QHash>
#include <QPointer>
#include <QWidget>

class QAbstractAxis;
class QChart;
class QLabel;
class QLineSeries;
class QScatterSeries;
class QValueAxis;

namespace Runwatch {

class Workspace;
struct MetricSeries;

// Display settings shared by every chart of a run view.
struct ChartOptions {
    bool byTime = false;     // x: step, or seconds since the run started
    double smoothing = 0.6;  // EMA weight; 0 = raw only
    bool logY = false;
};

// A QChartView with rubber-band and wheel zoom that tells when the user zoomed.
class ZoomableChartView : public QChartView
{
    Q_OBJECT
public:
    using QChartView::QChartView;

Q_SIGNALS:
    // Just before QtCharts changes the axis ranges for a zoom: the lines it would redraw for the
    // old points can be emptied first, since userZoomed() redraws them for the new range anyway.
    void aboutToZoom();
    void userZoomed();

protected:
    void wheelEvent(QWheelEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
};

// One chart: the named metrics of the given runs, overlaid. Redraws on refresh() only, from the
// Workspace's series, decimated to the pixels it has (first/min/max/last per pixel column).
class MetricChart : public QWidget
{
    Q_OBJECT
public:
    MetricChart(Workspace *workspace, const QString &title, const QStringList &metrics, QWidget *parent = nullptr);

    void setRuns(const QStringList &runs);
    void setOptions(const ChartOptions &options);
    void refresh();
    void resetZoom();
    QString title() const { return m_title; }
    QStringList metrics() const { return m_metrics; }

    bool exportPng(const QString &file) const;
    // The chart's metrics as one table, a row per step (Workspace::metricsCsv).
    bool exportCsv(const QString &file) const;
    // Points drawn in the last refresh, over all series (for tests and the benchmark).
    qsizetype pointsDrawn() const { return m_pointsDrawn; }
    qsizetype nonFiniteMarked() const { return m_nonFiniteMarked; }
    ZoomableChartView *view() const { return m_view; }

private:
    // What refresh() derives from a series, kept between refreshes: x of every point and the
    // smoothed values, extended only where the series grew (a zoom recomputes neither).
    struct LineCache {
        const MetricSeries *series = nullptr;
        bool byTime = false;
        qint64 originMs = 0;
        double lastValue = 0;   // values[xs.size() - 1], to tell a replaced series from a grown one
        double smoothing = -1;  // the weight ema was made with
        QVector<double> xs;
        QVector<double> ema;
        ChartData::SmoothState smoothState;
        // The last unzoomed drawing, for a reset of the zoom while the series did not change.
        struct Full {
            qsizetype size = -1;
            double xMin = 0, xMax = 0;
            int columns = 0;
            QList<QPointF> raw, smooth;
            QVector<ChartData::NonFinite> nonFinite;
        } full;
    };
    const LineCache &lineData(const QString &key, const MetricSeries &series, qint64 originMs);
    void rebuildAxes();
    void clearLines();
    void onHover(const QPointF &point, bool state, const QString &label);

    Workspace *m_workspace;
    QString m_title;
    QStringList m_metrics;
    QStringList m_runs;
    ChartOptions m_options;
    QChart *m_chart;
    ZoomableChartView *m_view;
    QLabel *m_readout;
    QAbstractAxis *m_xAxis = nullptr;
    QAbstractAxis *m_yAxis = nullptr;
    QScatterSeries *m_markers = nullptr;
    QHash<QString, LineCache> m_lineCache;
    bool m_userZoom = false;
    bool m_logAxes = false;
    qsizetype m_pointsDrawn = 0;
    qsizetype m_nonFiniteMarked = 0;
};

// A colour per line, distinct for the first dozen.
QColor seriesColor(int index);

} // namespace Runwatch
