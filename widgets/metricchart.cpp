#include "metricchart.h"

#include "chartdata.h"
#include "format.h"
#include "runstate.h"
#include "workspace.h"

#include <QChart>
#include <QFile>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
#include <QTextStream>
#include <QValueAxis>
#include <QVBoxLayout>
#include <QWheelEvent>

#include <cmath>
#include <limits>

namespace Runwatch {

QColor seriesColor(int index)
{
    static const QColor colors[] = {
        QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x2c, 0xa0, 0x2c), QColor(0x94, 0x67, 0xbd),
        QColor(0x8c, 0x56, 0x4b), QColor(0xe3, 0x77, 0xc2), QColor(0x17, 0xbe, 0xcf), QColor(0xbc, 0xbd, 0x22),
        QColor(0x7f, 0x7f, 0x7f), QColor(0x39, 0x3b, 0x79), QColor(0xad, 0x49, 0x4a), QColor(0x63, 0x79, 0x39),
    };
    constexpr int count = int(sizeof colors / sizeof colors[0]);
    return colors[((index % count) + count) % count];
}

void ZoomableChartView::wheelEvent(QWheelEvent *event)
{
    if (!chart() || event->angleDelta().y() == 0) {
        QChartView::wheelEvent(event);
        return;
    }
    const qreal factor = event->angleDelta().y() > 0 ? 1.25 : 0.8;
    chart()->zoom(factor);
    Q_EMIT userZoomed();
    event->accept();
}

void ZoomableChartView::mouseReleaseEvent(QMouseEvent *event)
{
    QChartView::mouseReleaseEvent(event);
    if (event->button() == Qt::LeftButton)
        Q_EMIT userZoomed();
    else if (event->button() == Qt::RightButton)
        Q_EMIT userZoomed(); // QChartView zooms out on a right click
}

MetricChart::MetricChart(Workspace *workspace, const QString &title, const QStringList &metrics, QWidget *parent)
    : QWidget(parent), m_workspace(workspace), m_title(title), m_metrics(metrics), m_chart(new QChart)
{
    m_chart->setTitle(title);
    m_chart->legend()->setAlignment(Qt::AlignBottom);
    m_chart->setMargins(QMargins(4, 4, 4, 4));
    m_chart->setAnimationOptions(QChart::NoAnimation);
    m_view = new ZoomableChartView(m_chart, this);
    m_view->setRenderHint(QPainter::Antialiasing);
    m_view->setRubberBand(QChartView::RectangleRubberBand);
    m_view->setMinimumHeight(220);
    m_readout = new QLabel(this);
    m_readout->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QFont small = m_readout->font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    m_readout->setFont(small);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_readout);
    connect(m_view, &ZoomableChartView::userZoomed, this, [this] {
        m_userZoom = true;
        refresh();
    });
    rebuildAxes();
}

void MetricChart::setRuns(const QStringList &runs)
{
    if (runs == m_runs)
        return;
    m_runs = runs;
    m_userZoom = false;
    refresh();
}

void MetricChart::setOptions(const ChartOptions &options)
{
    const bool axesChange = options.logY != m_options.logY;
    const bool xChange = options.byTime != m_options.byTime;
    m_options = options;
    if (xChange)
        m_userZoom = false;
    if (axesChange)
        rebuildAxes();
    refresh();
}

void MetricChart::resetZoom()
{
    m_userZoom = false;
    refresh();
}

void MetricChart::rebuildAxes()
{
    m_chart->removeAllSeries(); // series are rebuilt by refresh()
    m_markers = nullptr;
    const QList<QAbstractAxis *> axes = m_chart->axes();
    for (QAbstractAxis *axis : axes) {
        m_chart->removeAxis(axis);
        delete axis;
    }
    auto *x = new QValueAxis;
    x->setLabelFormat(QStringLiteral("%g"));
    m_xAxis = x;
    if (m_options.logY) {
        auto *y = new QLogValueAxis;
        y->setLabelFormat(QStringLiteral("%g"));
        y->setBase(10);
        m_yAxis = y;
    } else {
        auto *y = new QValueAxis;
        y->setLabelFormat(QStringLiteral("%.4g"));
        m_yAxis = y;
    }
    m_chart->addAxis(m_xAxis, Qt::AlignBottom);
    m_chart->addAxis(m_yAxis, Qt::AlignLeft);
    m_logAxes = m_options.logY;
    m_userZoom = false;
}

void MetricChart::refresh()
{
    m_xAxis->setTitleText(m_options.byTime ? tr("seconds") : tr("step"));
    const int columns = qMax(50, int(m_chart->plotArea().width()));

    // The x range: everything, or what the user zoomed to.
    double xMin = std::numeric_limits<double>::infinity(), xMax = -xMin;
    struct Line {
        QString key;
        QString label;
        QColor color;
        QVector<double> xs;
        QVector<double> values;
    };
    QVector<Line> lines;
    int colorIndex = 0;
    for (const QString &runId : m_runs) {
        const RunState *run = m_workspace->run(runId);
        if (!run)
            continue;
        for (const QString &metric : m_metrics) {
            const MetricSeries *series = run->series(metric);
            const int color = colorIndex++;
            if (!series || series->size() == 0)
                continue;
            Line line;
            line.key = runId + QLatin1Char('\x1f') + metric;
            line.label = m_runs.size() > 1 ? QStringLiteral("%1 · %2").arg(run->name(), metric) : metric;
            line.color = seriesColor(color);
            line.xs = ChartData::xValues(*series, m_options.byTime, run->startedMs() > 0 ? run->startedMs() : series->tsMs.first());
            line.values = series->values;
            xMin = qMin(xMin, line.xs.first());
            xMax = qMax(xMax, line.xs.last());
            lines.append(std::move(line));
        }
    }
    if (m_userZoom) {
        if (auto *axis = qobject_cast<QValueAxis *>(m_xAxis)) {
            xMin = axis->min();
            xMax = axis->max();
        }
    }
    if (!(xMax >= xMin)) {
        xMin = 0;
        xMax = 1;
    }

    // Decimate and hand each line to its series in one replace().
    QHash<QString, QLineSeries *> existing;
    for (QAbstractSeries *series : m_chart->series()) {
        if (auto *line = qobject_cast<QLineSeries *>(series); line && !qobject_cast<QScatterSeries *>(series))
            existing.insert(line->objectName(), line);
    }
    double yMin = std::numeric_limits<double>::infinity(), yMax = -yMin;
    QVector<ChartData::NonFinite> nonFinite;
    QSet<QString> used;
    m_pointsDrawn = 0;
    auto seriesFor = [&](const QString &name, const QString &label, const QColor &color, qreal width, bool inLegend) {
        QLineSeries *series = existing.value(name);
        if (!series) {
            series = new QLineSeries;
            series->setObjectName(name);
            m_chart->addSeries(series);
            series->attachAxis(m_xAxis);
            series->attachAxis(m_yAxis);
            connect(series, &QLineSeries::hovered, this, [this, label](const QPointF &point, bool state) {
                onHover(point, state, label);
            });
        }
        QPen pen(color);
        pen.setWidthF(width);
        series->setPen(pen);
        series->setName(label);
        const auto markers = m_chart->legend()->markers(series);
        for (QLegendMarker *marker : markers)
            marker->setVisible(inLegend);
        used.insert(name);
        return series;
    };
    for (const Line &line : lines) {
        const bool smoothed = m_options.smoothing > 0;
        QList<QPointF> raw = ChartData::decimate(line.xs, line.values, xMin, xMax, columns, &nonFinite);
        QList<QPointF> smooth;
        if (smoothed) {
            const QVector<double> ema = ChartData::smooth(line.values, m_options.smoothing);
            smooth = ChartData::decimate(line.xs, ema, xMin, xMax, columns);
        }
        if (m_logAxes) {
            auto positive = [](QList<QPointF> &points) {
                points.erase(std::remove_if(points.begin(), points.end(), [](const QPointF &p) { return p.y() <= 0; }), points.end());
            };
            positive(raw);
            positive(smooth);
        }
        for (const QPointF &p : raw) {
            if (p.x() >= xMin && p.x() <= xMax) {
                yMin = qMin(yMin, p.y());
                yMax = qMax(yMax, p.y());
            }
        }
        QColor faint = line.color;
        if (smoothed)
            faint.setAlpha(70);
        QLineSeries *rawSeries = seriesFor(line.key + QStringLiteral("\x1fraw"), line.label, faint, smoothed ? 1.0 : 2.0, !smoothed);
        rawSeries->replace(raw);
        m_pointsDrawn += raw.size();
        if (smoothed) {
            QLineSeries *smoothSeries = seriesFor(line.key + QStringLiteral("\x1fsmooth"), line.label, line.color, 2.0, true);
            smoothSeries->replace(smooth);
            m_pointsDrawn += smooth.size();
        }
    }
    for (auto it = existing.cbegin(); it != existing.cend(); ++it) {
        if (!used.contains(it.key())) {
            m_chart->removeSeries(it.value());
            delete it.value();
        }
    }

    // Axis ranges, with a little air.
    if (!(yMax >= yMin)) {
        yMin = m_logAxes ? 0.1 : 0;
        yMax = 1;
    }
    if (!m_userZoom) {
        if (m_logAxes) {
            yMin = yMin / 1.5;
            yMax = yMax * 1.5;
        } else {
            const double pad = yMax > yMin ? (yMax - yMin) * 0.06 : qMax(1e-9, std::fabs(yMax) * 0.1 + 1e-9);
            yMin -= pad;
            yMax += pad;
        }
        m_xAxis->setRange(xMin, xMax > xMin ? xMax : xMin + 1);
        m_yAxis->setRange(yMin, yMax);
        // Round tick values (0, 250, 500, … rather than 1, 20.25, 39.5, …).
        if (auto *axis = qobject_cast<QValueAxis *>(m_xAxis))
            axis->applyNiceNumbers();
        if (auto *axis = qobject_cast<QValueAxis *>(m_yAxis)) {
            axis->applyNiceNumbers();
            yMin = axis->min();
            yMax = axis->max();
        }
    } else if (auto *axis = qobject_cast<QValueAxis *>(m_yAxis)) {
        yMin = axis->min();
        yMax = axis->max();
    } else if (auto *axis = qobject_cast<QLogValueAxis *>(m_yAxis)) {
        yMin = axis->min();
        yMax = axis->max();
    }

    // NaN and ±Infinity: red marks on the plot's top (NaN, +Inf) or bottom (-Inf) edge.
    if (!m_markers) {
        m_markers = new QScatterSeries;
        m_markers->setObjectName(QStringLiteral("non-finite"));
        m_markers->setName(tr("NaN / Inf"));
        m_markers->setMarkerShape(QScatterSeries::MarkerShapeTriangle);
        m_markers->setMarkerSize(11);
        m_markers->setColor(QColor(0xd6, 0x45, 0x41));
        m_markers->setBorderColor(QColor(0x8b, 0x1a, 0x1a));
        m_chart->addSeries(m_markers);
        m_markers->attachAxis(m_xAxis);
        m_markers->attachAxis(m_yAxis);
        connect(m_markers, &QScatterSeries::hovered, this, [this](const QPointF &point, bool state) {
            onHover(point, state, tr("non-finite value"));
        });
    }
    QList<QPointF> marks;
    marks.reserve(nonFinite.size());
    QStringList kinds;
    for (const ChartData::NonFinite &mark : nonFinite) {
        marks.append(QPointF(mark.x, mark.kind < 0 ? yMin : yMax));
        const QString kind = mark.kind == 0 ? QStringLiteral("NaN") : (mark.kind > 0 ? QStringLiteral("+Inf") : QStringLiteral("-Inf"));
        if (!kinds.contains(kind))
            kinds.append(kind);
    }
    m_markers->replace(marks);
    // A legend earns its space only when there is more than one line to tell apart.
    m_chart->legend()->setVisible(lines.size() > 1 || !marks.isEmpty());
    m_nonFiniteMarked = marks.size();
    for (QLegendMarker *marker : m_chart->legend()->markers(m_markers))
        marker->setVisible(!marks.isEmpty());
    if (!nonFinite.isEmpty()) {
        m_chart->setTitle(tr("%1 — %2 from %3 %4").arg(m_title, kinds.join(QStringLiteral(", ")),
                                                     m_options.byTime ? tr("second") : tr("step"),
                                                     Format::metricValue(nonFinite.first().x)));
        m_chart->setTitleBrush(QColor(0xc0, 0x39, 0x2b));
    } else {
        m_chart->setTitle(m_title);
        m_chart->setTitleBrush(palette().color(QPalette::WindowText));
    }
}

void MetricChart::onHover(const QPointF &point, bool state, const QString &label)
{
    if (!state)
        return;
    m_readout->setText(tr("%1: %2 %3, value %4")
                           .arg(label, m_options.byTime ? tr("second") : tr("step"), Format::metricValue(point.x()),
                                Format::metricValue(point.y())));
}

bool MetricChart::exportPng(const QString &file) const
{
    return m_view->grab().save(file, "PNG");
}

bool MetricChart::exportCsv(const QString &file) const
{
    QFile out(file);
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        return false;
    QTextStream stream(&out);
    stream << "run,metric,step,value,ts_ms\n";
    for (const QString &runId : m_runs) {
        const RunState *run = m_workspace->run(runId);
        if (!run)
            continue;
        for (const QString &metric : m_metrics) {
            const MetricSeries *series = run->series(metric);
            if (!series)
                continue;
            for (qsizetype i = 0; i < series->size(); ++i) {
                const double v = series->values.at(i);
                const QString value = std::isnan(v) ? QStringLiteral("NaN")
                    : std::isinf(v) ? (v > 0 ? QStringLiteral("Infinity") : QStringLiteral("-Infinity"))
                                    : QString::number(v, 'g', 17);
                stream << runId << ',' << metric << ',' << series->steps.at(i) << ',' << value << ','
                       << series->tsMs.at(i) << '\n';
            }
        }
    }
    return stream.status() == QTextStream::Ok;
}

} // namespace Runwatch
