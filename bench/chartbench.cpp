// Redraw cost of a live chart: a run with N loss points (plus a few NaN), drawn by MetricChart
// (decimated to the plot's pixel columns) and, for comparison, by a plain QLineSeries given every
// point. Offscreen, 1000x600. Prints milliseconds per refresh+render.
//
// Zoom: the same chart zoomed with the rubber band as a user drags it (mouse press, move and
// release on the view: QChartView zooms, MetricChart redraws for the new range) to the middle 10 %
// and the middle 1 % of the steps, and back with resetZoom() (the Reset zoom button). Each is timed
// from the zoom call to the next painted frame (the event loop run once: update requests handled,
// the window painted to the offscreen backing store), Z times; median and p95 printed, of the wall
// time and of this process's CPU time (which a busy machine does not inflate as much).
//
//   runwatch_chartbench [--points N] [--repeat R] [--zoom-repeat Z]

#include "event.h"
#include "metricchart.h"
#include "workspace.h"

#include <QApplication>
#include <QChart>
#include <QChartView>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QImage>
#include <QJsonObject>
#include <QLineSeries>
#include <QMouseEvent>
#include <QPainter>
#include <QRandomGenerator>
#include <QValueAxis>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <vector>

using namespace Runwatch;

namespace {

EventBatch lossEvents(qint64 points)
{
    EventBatch batch;
    batch.reserve(points + 1);
    Event start;
    start.seq = 1;
    start.run = QStringLiteral("bench");
    start.type = QStringLiteral("run_started");
    start.kind = EventKind::RunStarted;
    start.tsMs = 1700000000000;
    batch.append(start);
    QRandomGenerator random(7);
    for (qint64 i = 0; i < points; ++i) {
        Event e;
        e.seq = i + 2;
        e.run = start.run;
        e.type = QStringLiteral("metric");
        e.kind = EventKind::Metric;
        e.tsMs = start.tsMs + i * 10;
        double loss = 2.0 * std::exp(-double(i) / double(points / 5 + 1)) + 0.3 + 0.05 * (random.generateDouble() - 0.5);
        if (i % 250000 == 249999)
            loss = std::nan("");
        e.data = QJsonObject{{QStringLiteral("step"), double(i)},
                             {QStringLiteral("loss"), std::isnan(loss) ? QJsonValue(QStringLiteral("NaN")) : QJsonValue(loss)}};
        batch.append(std::move(e));
    }
    return batch;
}

// `count` more loss points after the first `from`, as a live run sends them.
EventBatch moreLoss(qint64 from, int count)
{
    EventBatch batch;
    for (int i = 0; i < count; ++i) {
        Event e;
        e.seq = from + i + 2;
        e.run = QStringLiteral("bench");
        e.type = QStringLiteral("metric");
        e.kind = EventKind::Metric;
        e.tsMs = 1700000000000 + (from + i) * 10;
        e.data = QJsonObject{{QStringLiteral("step"), double(from + i)}, {QStringLiteral("loss"), 0.3 + 0.01 * double(i % 7)}};
        batch.append(std::move(e));
    }
    return batch;
}

double render(QWidget &widget)
{
    QImage image(widget.size(), QImage::Format_ARGB32_Premultiplied);
    QPainter painter(&image);
    widget.render(&painter);
    return image.pixel(10, 10);
}

// Drags the rubber band over [from, to] (fractions of the plot's width, the plot's full height)
// and lets go: the zoom a user makes with the mouse.
void rubberBandZoom(MetricChart &chart, double from, double to)
{
    ZoomableChartView *view = chart.view();
    const QRectF plot = view->chart()->plotArea();
    const QPointF a = view->mapFromScene(view->chart()->mapToScene(QPointF(plot.left() + from * plot.width(), plot.top() + 1)));
    const QPointF b = view->mapFromScene(view->chart()->mapToScene(QPointF(plot.left() + to * plot.width(), plot.bottom() - 1)));
    QWidget *viewport = view->viewport();
    QMouseEvent press(QEvent::MouseButtonPress, a, viewport->mapToGlobal(a), Qt::LeftButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(viewport, &press);
    QMouseEvent move(QEvent::MouseMove, b, viewport->mapToGlobal(b), Qt::NoButton, Qt::LeftButton, Qt::NoModifier);
    QCoreApplication::sendEvent(viewport, &move);
    QMouseEvent release(QEvent::MouseButtonRelease, b, viewport->mapToGlobal(b), Qt::LeftButton, Qt::NoButton, Qt::NoModifier);
    QCoreApplication::sendEvent(viewport, &release);
}

// Counts the paint events a widget gets: the frames the event loop draws.
class PaintCounter : public QObject
{
public:
    int paints = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() == QEvent::Paint)
            ++paints;
        return QObject::eventFilter(watched, event);
    }
};

// The frame after a zoom, as the UI gets it: the event loop runs (the chart's update requests are
// handled and the window is painted, to the offscreen backing store); if it painted nothing, the
// view is repainted at once.
void nextFrame(MetricChart &chart, PaintCounter &counter)
{
    const int before = counter.paints;
    QCoreApplication::processEvents();
    if (counter.paints == before)
        chart.view()->viewport()->repaint();
}

// CPU time of this process: on a busy machine it tells the work done from the time waited.
double cpuMs()
{
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

struct Timings {
    std::vector<double> ms;
    void add(double value) { ms.push_back(value); }
    double quantile(double q)
    {
        std::sort(ms.begin(), ms.end());
        return ms.empty() ? 0 : ms[std::min(ms.size() - 1, std::size_t(q * double(ms.size() - 1) + 0.5))];
    }
};

} // namespace

int main(int argc, char *argv[])
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOptions({{QStringLiteral("points"), QStringLiteral("points in the series"), QStringLiteral("N"), QStringLiteral("1000000")},
                       {QStringLiteral("repeat"), QStringLiteral("redraws to average"), QStringLiteral("R"), QStringLiteral("10")},
                       {QStringLiteral("zoom-repeat"), QStringLiteral("zooms of each kind timed"), QStringLiteral("Z"), QStringLiteral("20")},
                       {QStringLiteral("zoom-only"), QStringLiteral("only the zoom scenario (for profiling)")}});
    parser.process(app);
    const qint64 points = parser.value(QStringLiteral("points")).toLongLong();
    const int repeat = qMax(1, parser.value(QStringLiteral("repeat")).toInt());
    const int zoomRepeat = qMax(1, parser.value(QStringLiteral("zoom-repeat")).toInt());
    const bool zoomOnly = parser.isSet(QStringLiteral("zoom-only"));

    Workspace workspace;
    QElapsedTimer clock;
    clock.start();
    workspace.apply(lossEvents(points));
    std::printf("points %lld  apply_ms %.1f\n", static_cast<long long>(points), clock.nsecsElapsed() / 1e6);

    MetricChart chart(&workspace, QStringLiteral("loss"), {QStringLiteral("loss")});
    chart.resize(1000, 600);
    chart.show();
    chart.setRuns({QStringLiteral("bench")});
    QCoreApplication::processEvents();
    qint64 livePoints = points;
    for (double smoothing : {0.0, 0.6}) {
        if (zoomOnly)
            break;
        ChartOptions options;
        options.smoothing = smoothing;
        chart.setOptions(options);
        clock.restart();
        for (int i = 0; i < repeat; ++i) {
            chart.refresh();
            render(chart);
        }
        std::printf("decimated smoothing %.1f: refresh+render_ms %.1f  points_drawn %lld  nonfinite_marked %lld\n", smoothing,
                    clock.nsecsElapsed() / 1e6 / repeat, static_cast<long long>(chart.pointsDrawn()),
                    static_cast<long long>(chart.nonFiniteMarked()));
        // Live: 100 new points before each refresh (handed over as the window gets them), so
        // nothing drawn before can be reused.
        double ms = 0;
        for (int i = 0; i < repeat; ++i) {
            workspace.apply(moreLoss(livePoints, 100));
            livePoints += 100;
            clock.restart();
            chart.refresh();
            render(chart);
            ms += clock.nsecsElapsed() / 1e6;
        }
        std::printf("decimated smoothing %.1f, 100 new points per refresh: refresh+render_ms %.1f  points_drawn %lld\n", smoothing,
                    ms / repeat, static_cast<long long>(chart.pointsDrawn()));
    }

    // Zoom with the rubber band, then back: each timed from the zoom call to a rendered frame.
    for (double smoothing : {0.6, 0.0}) {
        ChartOptions options;
        options.smoothing = smoothing;
        chart.setOptions(options);
        chart.resetZoom();
        render(chart);
        QCoreApplication::processEvents();
        Timings in10, in1, reset, cpu10, cpu1, cpuReset;
        PaintCounter counter;
        chart.view()->viewport()->installEventFilter(&counter);
        qsizetype drawn10 = 0, drawn1 = 0, drawnReset = 0;
        bool zoomed = true;
        for (int i = 0; i < zoomRepeat; ++i) {
            for (double width : {0.10, 0.01}) {
                auto *axis = qobject_cast<QValueAxis *>(chart.view()->chart()->axes(Qt::Horizontal).value(0));
                const double fullSpan = axis ? axis->max() - axis->min() : 0.0;
                double cpu = cpuMs();
                clock.restart();
                rubberBandZoom(chart, 0.5 - width / 2, 0.5 + width / 2);
                nextFrame(chart, counter);
                (width > 0.05 ? in10 : in1).add(clock.nsecsElapsed() / 1e6);
                (width > 0.05 ? cpu10 : cpu1).add(cpuMs() - cpu);
                (width > 0.05 ? drawn10 : drawn1) = chart.pointsDrawn();
                if (!axis || axis->max() - axis->min() > 1.5 * width * fullSpan) {
                    if (zoomed)
                        std::fprintf(stderr, "chartbench: x axis %g..%g after a zoom to %g of the plot\n", axis ? axis->min() : 0.0,
                                     axis ? axis->max() : 0.0, width);
                    zoomed = false;
                }
                cpu = cpuMs();
                clock.restart();
                chart.resetZoom();
                nextFrame(chart, counter);
                reset.add(clock.nsecsElapsed() / 1e6);
                cpuReset.add(cpuMs() - cpu);
                drawnReset = chart.pointsDrawn();
            }
        }
        chart.view()->viewport()->removeEventFilter(&counter);
        if (counter.paints < 2 * 2 * zoomRepeat) {
            std::fprintf(stderr, "chartbench: %d frames painted for %d zooms\n", counter.paints, 4 * zoomRepeat);
            return 1;
        }
        if (!zoomed) {
            std::fprintf(stderr, "chartbench: the rubber band did not zoom the x axis\n");
            return 1;
        }
        std::printf("zoom smoothing %.1f, middle 10%%: zoom+render_ms median %.1f p95 %.1f  cpu_ms median %.1f p95 %.1f  points_drawn %lld\n",
                    smoothing, in10.quantile(0.5), in10.quantile(0.95), cpu10.quantile(0.5), cpu10.quantile(0.95), static_cast<long long>(drawn10));
        std::printf("zoom smoothing %.1f, middle 1%%:  zoom+render_ms median %.1f p95 %.1f  cpu_ms median %.1f p95 %.1f  points_drawn %lld\n",
                    smoothing, in1.quantile(0.5), in1.quantile(0.95), cpu1.quantile(0.5), cpu1.quantile(0.95), static_cast<long long>(drawn1));
        std::printf("zoom smoothing %.1f, reset:       zoom+render_ms median %.1f p95 %.1f  cpu_ms median %.1f p95 %.1f  points_drawn %lld\n",
                    smoothing, reset.quantile(0.5), reset.quantile(0.95), cpuReset.quantile(0.5), cpuReset.quantile(0.95),
                    static_cast<long long>(drawnReset));
        std::fflush(stdout);
    }

    if (zoomOnly)
        return 0;

    // The same series handed to QtCharts whole (what a chart without decimation does).
    QList<QPointF> all;
    all.reserve(points);
    const MetricSeries *series = workspace.run(QStringLiteral("bench"))->series(QStringLiteral("loss"));
    for (qsizetype i = 0; i < series->size(); ++i) {
        if (std::isfinite(series->values.at(i)))
            all.append(QPointF(double(series->steps.at(i)), series->values.at(i)));
    }
    auto *qchart = new QChart;
    auto *line = new QLineSeries;
    qchart->addSeries(line);
    qchart->createDefaultAxes();
    QChartView view(qchart);
    view.resize(1000, 600);
    view.show();
    const int rawRepeat = qMax(1, repeat / 5);
    clock.restart();
    for (int i = 0; i < rawRepeat; ++i) {
        line->replace(all);
        qchart->axes(Qt::Horizontal).first()->setRange(0, double(points));
        qchart->axes(Qt::Vertical).first()->setRange(0, 2.5);
        render(view);
    }
    std::printf("every point (QLineSeries::replace): refresh+render_ms %.1f  points_drawn %lld\n",
                clock.nsecsElapsed() / 1e6 / rawRepeat, static_cast<long long>(all.size()));
    return 0;
}
