// Redraw cost of a live chart: a run with N loss points (plus a few NaN), drawn by MetricChart
// (decimated to the plot's pixel columns) and, for comparison, by a plain QLineSeries given every
// point. Offscreen, 1000x600. Prints milliseconds per refresh+render.
//
//   runwatch_chartbench [--points N] [--repeat R]

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
#include <QPainter>
#include <QRandomGenerator>
#include <QValueAxis>

#include <cmath>
#include <cstdio>

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

double render(QWidget &widget)
{
    QImage image(widget.size(), QImage::Format_ARGB32_Premultiplied);
    QPainter painter(&image);
    widget.render(&painter);
    return image.pixel(10, 10);
}

} // namespace

int main(int argc, char *argv[])
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addOptions({{QStringLiteral("points"), QStringLiteral("points in the series"), QStringLiteral("N"), QStringLiteral("1000000")},
                       {QStringLiteral("repeat"), QStringLiteral("redraws to average"), QStringLiteral("R"), QStringLiteral("10")}});
    parser.process(app);
    const qint64 points = parser.value(QStringLiteral("points")).toLongLong();
    const int repeat = qMax(1, parser.value(QStringLiteral("repeat")).toInt());

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
    for (double smoothing : {0.0, 0.6}) {
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
    }

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
