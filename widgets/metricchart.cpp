#include "metricchart.h"

#include "chartdata.h"
#include "format.h"
#include "runstate.h"
#include "workspace.h"

#include <QChart>
#include <QSaveFile>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QScatterSeries>
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
    Q_EMIT aboutToZoom();
    chart()->zoom(factor);
    Q_EMIT userZoomed();
    event->accept();
}

void ZoomableChartView::mouseReleaseEvent(QMouseEvent *event)
{
    if (event->button() == Qt::LeftButton || event->button() == Qt::RightButton)
        Q_EMIT aboutToZoom();
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
    connect(m_view, &ZoomableChartView::aboutToZoom, this, &MetricChart::clearLines);
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

void MetricChart::clearLines()
{
    // QtCharts redraws every line's outline (for hover) on each axis range change, and that costs
    // more than anything else in a redraw: lines about to be replaced are emptied first.
    for (QAbstractSeries *series : m_chart->series()) {
        if (auto *xy = qobject_cast<QXYSeries *>(series); xy && xy->count() > 0)
            xy->clear();
    }
}

const MetricChart::LineCache &MetricChart::lineData(const QString &key, const MetricSeries &series, qint64 originMs)
{
    LineCache &cache = m_lineCache[key];
    const qsizetype n = series.size();
    auto xAt = [&](qsizetype i) {
        return m_options.byTime ? double(series.tsMs.at(i) - originMs) / 1000.0 : double(series.steps.at(i));
    };
    auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    const qsizetype known = cache.xs.size();
    const bool grown = cache.series == &series && cache.byTime == m_options.byTime && cache.originMs == originMs && known <= n
        && (known == 0
            || (cache.xs.first() == xAt(0) && cache.xs.last() == xAt(known - 1) && same(cache.lastValue, series.values.at(known - 1))));
    if (!grown) {
        cache = LineCache();
        cache.series = &series;
        cache.byTime = m_options.byTime;
        cache.originMs = originMs;
    }
    if (cache.xs.size() < n) {
        qsizetype i = cache.xs.size();
        cache.xs.resize(n);
        for (; i < n; ++i)
            cache.xs[i] = xAt(i);
        cache.lastValue = series.values.at(n - 1);
    }
    if (m_options.smoothing > 0) {
        if (cache.smoothing != m_options.smoothing) {
            cache.ema.clear();
            cache.smoothState = ChartData::SmoothState();
            cache.smoothing = m_options.smoothing;
            cache.full = LineCache::Full();
        }
        ChartData::smoothAppend(series.values, m_options.smoothing, &cache.ema, &cache.smoothState);
    } else if (cache.smoothing >= 0) {
        cache.ema = QVector<double>();
        cache.smoothing = -1;
        cache.full = LineCache::Full();
    }
    return cache;
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
    const QString xTitle = m_options.byTime ? tr("seconds") : tr("step");
    if (m_xAxis->titleText() != xTitle)
        m_xAxis->setTitleText(xTitle);
    const int columns = qMax(50, int(m_chart->plotArea().width()));

    // The x range: everything, or what the user zoomed to.
    double xMin = std::numeric_limits<double>::infinity(), xMax = -xMin;
    struct Line {
        QString key;
        QString label;
        QColor color;
        QVector<double> xs;
        QVector<double> values;
        QVector<double> ema; // smoothed values, when smoothing is on
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
            const LineCache &cache = lineData(line.key, *series, run->startedMs() > 0 ? run->startedMs() : series->tsMs.first());
            line.xs = cache.xs;
            line.ema = cache.ema;
            line.values = series->values;
            xMin = qMin(xMin, line.xs.first());
            xMax = qMax(xMax, line.xs.last());
            lines.append(std::move(line));
        }
    }
    if (m_lineCache.size() > lines.size()) {
        QSet<QString> shown;
        for (const Line &line : std::as_const(lines))
            shown.insert(line.key);
        for (auto it = m_lineCache.begin(); it != m_lineCache.end();) {
            if (shown.contains(it.key()))
                ++it;
            else
                it = m_lineCache.erase(it);
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
        if (series->pen() != pen)
            series->setPen(pen);
        if (series->name() != label)
            series->setName(label);
        const auto markers = m_chart->legend()->markers(series);
        for (QLegendMarker *marker : markers)
            marker->setVisible(inLegend);
        used.insert(name);
        return series;
    };
    // Every line's points first; the series get them only once the axes have their final range.
    struct Drawn {
        QLineSeries *series;
        QList<QPointF> points;
    };
    QVector<Drawn> drawn;
    for (const Line &line : lines) {
        const bool smoothed = m_options.smoothing > 0 && line.ema.size() == line.values.size();
        QList<QPointF> raw, smooth;
        LineCache::Full &full = m_lineCache[line.key].full;
        if (!m_userZoom && full.size == line.xs.size() && full.xMin == xMin && full.xMax == xMax && full.columns == columns) {
            raw = full.raw; // unchanged since it was last drawn unzoomed (a reset of the zoom)
            smooth = full.smooth;
            nonFinite += full.nonFinite;
        } else {
            QVector<ChartData::NonFinite> lineNonFinite;
            raw = ChartData::decimate(line.xs, line.values, xMin, xMax, columns, &lineNonFinite);
            if (smoothed)
                smooth = ChartData::decimate(line.xs, line.ema, xMin, xMax, columns);
            nonFinite += lineNonFinite;
            if (!m_userZoom)
                full = LineCache::Full{line.xs.size(), xMin, xMax, columns, raw, smooth, lineNonFinite};
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
        m_pointsDrawn += raw.size();
        drawn.append({rawSeries, std::move(raw)});
        if (smoothed) {
            QLineSeries *smoothSeries = seriesFor(line.key + QStringLiteral("\x1fsmooth"), line.label, line.color, 2.0, true);
            m_pointsDrawn += smooth.size();
            drawn.append({smoothSeries, std::move(smooth)});
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
        clearLines(); // the range changes below then cost nothing per point
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

    for (Drawn &line : drawn)
        line.series->replace(line.points);

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
    // Set only when changed: each setting lays the title out again.
    const QString title = nonFinite.isEmpty()
        ? m_title
        : tr("%1 — %2 from %3 %4").arg(m_title, kinds.join(QStringLiteral(", ")), m_options.byTime ? tr("second") : tr("step"),
                                        Format::metricValue(nonFinite.first().x));
    const QBrush titleBrush(nonFinite.isEmpty() ? palette().color(QPalette::WindowText) : QColor(0xc0, 0x39, 0x2b));
    if (m_chart->title() != title)
        m_chart->setTitle(title);
    if (m_chart->titleBrush() != titleBrush)
        m_chart->setTitleBrush(titleBrush);
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
    QSaveFile out(file);
    if (!out.open(QIODevice::WriteOnly))
        return false;
    out.write(m_workspace->metricsCsv(m_runs, m_metrics));
    return out.commit();
}

} // namespace Runwatch
