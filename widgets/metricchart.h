#pragma once

#include <QChartView>
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
    bool exportCsv(const QString &file) const;
    // Points drawn in the last refresh, over all series (for tests and the benchmark).
    qsizetype pointsDrawn() const { return m_pointsDrawn; }
    qsizetype nonFiniteMarked() const { return m_nonFiniteMarked; }
    ZoomableChartView *view() const { return m_view; }

private:
    void rebuildAxes();
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
    bool m_userZoom = false;
    bool m_logAxes = false;
    qsizetype m_pointsDrawn = 0;
    qsizetype m_nonFiniteMarked = 0;
};

// A colour per line, distinct for the first dozen.
QColor seriesColor(int index);

} // namespace Runwatch
