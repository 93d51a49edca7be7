// Tests for the desktop window's pieces (widgets/): Workspace, the item models under
// QAbstractItemModelTester, the filters, the progress delegate, MetricChart and RunView.
#include "codec.h"
#include "eventlogmodel.h"
#include "eventlogtable.h"
#include "format.h"
#include "metricchart.h"
#include "progressdelegate.h"
#include "runsmodel.h"
#include "runstable.h"
#include "runstate.h"
#include "runview.h"
#include "stepsmodel.h"
#include "workspace.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QChart>
#include <QFile>
#include <QDateTime>
#include <QHeaderView>
#include <QImage>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QPainter>
#include <QProgressBar>
#include <QSplitter>
#include <QToolButton>
#include <QRandomGenerator>
#include <QSet>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QStyleOptionViewItem>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>

#include <cmath>
#include <limits>

using namespace Runwatch;

namespace {

constexpr qint64 BaseMs = 1700000000000;

QString s(const char *text)
{
    return QString::fromUtf8(text);
}

// An accepted event as the viewer feed hands it over.
Event ev(qint64 seq, const QString &run, const QString &type, const QJsonObject &data = {},
         const QString &step = QString(), qint64 tsMs = 0)
{
    Event e;
    e.seq = seq;
    e.run = run;
    e.type = type;
    e.kind = eventKindFor(type);
    e.data = data;
    e.step = step;
    e.tsMs = tsMs > 0 ? tsMs : BaseMs + seq * 1000;
    return e;
}

// The same through the codec, as a producer would send it.
Event parsed(qint64 seq, const QJsonObject &object)
{
    Event e;
    const Error error = Codec::parseEvent(object, BaseMs + seq * 1000, &e);
    if (error)
        qWarning("parseEvent: %s", qPrintable(error.message));
    e.seq = seq;
    return e;
}

// Hands out increasing seq numbers for a test.
struct Seq {
    qint64 next = 0;
    qint64 operator()() { return ++next; }
};

QJsonObject obj(std::initializer_list<QPair<QString, QJsonValue>> pairs)
{
    QJsonObject o;
    for (const auto &p : pairs)
        o.insert(p.first, p.second);
    return o;
}

// A run of `points` loss values (a noisy decay), with NaN at two steps and +Infinity at one.
EventBatch lossRun(const QString &run, int points, Seq &seq)
{
    EventBatch batch;
    batch.reserve(points + 1);
    batch.append(ev(seq(), run, s("run_started"), obj({{s("name"), s("big")}, {s("kind"), s("training")}})));
    QRandomGenerator rng(5);
    for (int i = 0; i < points; ++i) {
        QJsonValue value = 2.0 * std::exp(-i / 20000.0) + rng.bounded(0.2);
        if (i == points / 3 || i == points / 3 + 1)
            value = s("NaN");
        else if (i == 2 * points / 3)
            value = s("Infinity");
        batch.append(ev(seq(), run, s("metric"), obj({{s("step"), i}, {s("loss"), value}})));
    }
    return batch;
}

// Distinct colours and pixels that differ from the most common (background) colour.
struct ImageStats {
    int distinctColors = 0;
    qint64 foreground = 0;
    qint64 pixels = 0;
};

ImageStats statsOf(const QImage &source)
{
    const QImage image = source.convertToFormat(QImage::Format_ARGB32);
    QHash<QRgb, qint64> counts;
    for (int y = 0; y < image.height(); ++y) {
        const QRgb *line = reinterpret_cast<const QRgb *>(image.constScanLine(y));
        for (int x = 0; x < image.width(); ++x)
            ++counts[line[x]];
    }
    ImageStats stats;
    stats.distinctColors = int(counts.size());
    stats.pixels = qint64(image.width()) * image.height();
    qint64 most = 0;
    for (qint64 c : std::as_const(counts))
        most = qMax(most, c);
    stats.foreground = stats.pixels - most;
    return stats;
}

bool isColoured(QRgb pixel)
{
    const QColor c = QColor::fromRgba(pixel);
    return c.hsvSaturation() > 40 && c.value() > 40;
}

QStringList column(const QAbstractItemModel &model, int col, int role = Qt::DisplayRole)
{
    QStringList out;
    for (int row = 0; row < model.rowCount(); ++row)
        out.append(model.index(row, col).data(role).toString());
    return out;
}

QVector<qint64> seqColumn(const QAbstractItemModel &model)
{
    QVector<qint64> out;
    for (int row = 0; row < model.rowCount(); ++row)
        out.append(model.index(row, 0).data(EventLogModel::SeqRole).toLongLong());
    return out;
}

} // namespace

class TestWidgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();

    // Workspace
    void workspaceAppliesBatches();
    void workspaceIgnoresDuplicateSeqs();
    void workspaceRemoveRun();
    void workspaceConsole();
    void workspaceEventsFromCodec();

    // Models under QAbstractItemModelTester
    void runsModelUnderTester();
    void stepsModelUnderTester();
    void eventLogModelUnderTester();
    void eventLogOverflowIsBounded();
    void eventLogPauseResume();
    void eventLogPrependsOlderRows();

    // Filters
    void runsFilterText();
    void runsFilterStatus();
    void runsFilterSortsByProgress();
    void eventLogFilter();

    // Event log texts
    void summarize_data();
    void summarize();
    void severityOf_data();
    void severityOf();

    // Delegate
    void barRect_data();
    void barRect();
    void progressDelegatePaints();

    // Charts and the run view
    void metricChartDecimatesAndMarks();
    void metricChartExportCsv();
    void groupMetrics_data();
    void groupMetrics();
    void runViewShowsOneChartPerGroup();
    void metricsCsvOneRowPerStep();
    void sectionMetrics_data();
    void sectionMetrics();
    void runViewSectionsCollapse();

    // What the window tells people
    void progressStaysTrueAfterEarlyEnd();
    void notifiesOnlyWhatHappensLive();
    void silentRunsOnlyWhileOpen();
    void rates_data();
    void rates();
    void throughputCarriesUnit();
    void tablesReadableAt1500();
};

void TestWidgets::initTestCase()
{
    QVERIFY(qobject_cast<QApplication *>(QCoreApplication::instance()));
}

// ---------------------------------------------------------------------------------------------
// Workspace

void TestWidgets::workspaceAppliesBatches()
{
    Workspace ws;
    QSignalSpy added(&ws, &Workspace::runsAdded);
    QSignalSpy changed(&ws, &Workspace::runsChanged);
    QSignalSpy applied(&ws, &Workspace::applied);

    ws.apply({ev(1, s("a"), s("run_started"), obj({{s("name"), s("Alpha")}, {s("kind"), s("training")}})),
              ev(2, s("b"), s("run_started"), obj({{s("name"), s("Beta")}})),
              ev(3, s("a"), s("metric"), obj({{s("step"), 1}, {s("loss"), 0.5}}))});
    QCOMPARE(added.count(), 1);
    QCOMPARE(added.at(0).at(0).toStringList(), (QStringList{s("a"), s("b")}));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).value<QSet<QString>>(), (QSet<QString>{s("a"), s("b")}));
    QCOMPARE(applied.count(), 1);
    QCOMPARE(applied.at(0).at(0).value<EventBatch>().size(), 3);
    QCOMPARE(ws.lastSeq(), 3);
    QCOMPARE(ws.eventsApplied(), 3);
    QVERIFY(ws.run(s("a")));
    QCOMPARE(ws.run(s("a"))->name(), s("Alpha"));
    QCOMPARE(ws.run(s("a"))->status(), s("running"));
    QVERIFY(ws.run(s("a"))->series(s("loss")));
    QCOMPARE(ws.run(s("a"))->series(s("loss"))->size(), 1);

    // A second batch: one known run changes, one new run appears; one signal each.
    ws.apply({ev(4, s("a"), s("progress"), obj({{s("completed"), 5}, {s("total"), 10}})),
              ev(5, s("c"), s("log"), obj({{s("level"), s("info")}, {s("message"), s("hi")}})),
              ev(6, s("c"), s("log"), obj({{s("level"), s("info")}, {s("message"), s("again")}}))});
    QCOMPARE(added.count(), 2);
    QCOMPARE(added.at(1).at(0).toStringList(), QStringList{s("c")});
    QCOMPARE(changed.count(), 2);
    QCOMPARE(changed.at(1).at(0).value<QSet<QString>>(), (QSet<QString>{s("a"), s("c")}));
    QCOMPARE(ws.runIds(), (QStringList{s("a"), s("b"), s("c")}));
    QCOMPARE(ws.run(s("a"))->progress(), 0.5);
    QCOMPARE(ws.run(s("c"))->eventCount(), 2);
    QCOMPARE(ws.lastSeq(), 6);
    QVERIFY(!ws.run(s("nope")));
}

void TestWidgets::workspaceIgnoresDuplicateSeqs()
{
    Workspace ws;
    ws.apply({ev(1, s("r"), s("metric"), obj({{s("step"), 1}, {s("loss"), 1.0}})),
              ev(2, s("r"), s("metric"), obj({{s("step"), 2}, {s("loss"), 0.9}})),
              ev(3, s("r"), s("token"), obj({{s("text"), s("abc")}}))});
    QSignalSpy added(&ws, &Workspace::runsAdded);
    QSignalSpy changed(&ws, &Workspace::runsChanged);

    // Only duplicates: nothing changes, nobody is told about a change.
    ws.apply({ev(2, s("r"), s("metric"), obj({{s("step"), 2}, {s("loss"), 0.9}})),
              ev(3, s("r"), s("token"), obj({{s("text"), s("abc")}})),
              ev(1, s("x"), s("run_started"), obj({{s("name"), s("ghost")}}))});
    QCOMPARE(added.count(), 0);
    QCOMPARE(changed.count(), 0);
    QCOMPARE(ws.eventsApplied(), 3);
    QCOMPARE(ws.run(s("r"))->series(s("loss"))->size(), 2);
    QCOMPARE(ws.run(s("r"))->eventCount(), 3);
    QVERIFY(!ws.run(s("x")));
    QCOMPARE(ws.console(s("r")), s("abc"));

    // Overlapping batch: the new part is applied once.
    ws.apply({ev(3, s("r"), s("token"), obj({{s("text"), s("abc")}})),
              ev(4, s("r"), s("token"), obj({{s("text"), s("def")}})),
              ev(5, s("r"), s("metric"), obj({{s("step"), 3}, {s("loss"), 0.8}}))});
    QCOMPARE(changed.count(), 1);
    QCOMPARE(ws.eventsApplied(), 5);
    QCOMPARE(ws.lastSeq(), 5);
    QCOMPARE(ws.run(s("r"))->series(s("loss"))->values, (QVector<double>{1.0, 0.9, 0.8}));
    QCOMPARE(ws.console(s("r")), s("abcdef"));
}

void TestWidgets::workspaceRemoveRun()
{
    Workspace ws;
    ws.apply({ev(1, s("a"), s("token"), obj({{s("text"), s("hello")}})),
              ev(2, s("b"), s("token"), obj({{s("text"), s("world")}})),
              ev(3, s("c"), s("metric"), obj({{s("loss"), 1}}))});
    QSignalSpy removed(&ws, &Workspace::runRemoved);
    ws.removeRun(s("b"));
    QCOMPARE(removed.count(), 1);
    QCOMPARE(removed.at(0).at(0).toString(), s("b"));
    QVERIFY(!ws.run(s("b")));
    QCOMPARE(ws.runIds(), (QStringList{s("a"), s("c")}));
    QVERIFY(ws.console(s("b")).isEmpty());
    QCOMPARE(ws.console(s("a")), s("hello"));

    ws.removeRun(s("unknown"));
    QCOMPARE(removed.count(), 1);

    // A later event of the removed run brings it back as a new run.
    QSignalSpy added(&ws, &Workspace::runsAdded);
    ws.apply({ev(4, s("b"), s("token"), obj({{s("text"), s("again")}}))});
    QCOMPARE(added.count(), 1);
    QCOMPARE(ws.runIds(), (QStringList{s("a"), s("c"), s("b")}));
    QCOMPARE(ws.run(s("b"))->eventCount(), 1);
    QCOMPARE(ws.console(s("b")), s("again"));
}

void TestWidgets::workspaceConsole()
{
    Workspace ws;
    ws.apply({ev(1, s("r"), s("token"), obj({{s("text"), s("Hello")}})),
              ev(2, s("r"), s("token"), obj({{s("text"), s(", world")}})),
              ev(3, s("r"), s("metric"), obj({{s("step"), 1}, {s("loss"), 0.5}})),
              ev(4, s("r"), s("log"), obj({{s("level"), s("warning")}, {s("message"), s("disk almost full")}})),
              ev(5, s("r"), s("log"), obj({{s("message"), s("no level")}})),
              ev(6, s("r"), s("token"), obj({{s("text"), s("more")}})),
              ev(7, s("r"), s("error"), obj({{s("message"), s("CUDA out of memory")}, {s("code"), s("OOM")}})),
              ev(8, s("r"), s("step_failed"), obj({{s("message"), s("tool crashed")}}), s("s1")),
              ev(9, s("r"), s("run_failed"), obj({{s("message"), s("gave up")}})),
              ev(10, s("other"), s("token"), obj({{s("text"), s("elsewhere")}}))});
    const QString console = ws.console(s("r"));
    // Tokens verbatim and in order; log lines, errors and failures interleaved where they came.
    const QStringList pieces{s("Hello, world"), s("[warning] disk almost full\n"), s("[info] no level\n"), s("more"),
                             s("[error] CUDA out of memory\n"), s("tool crashed\n"), s("[failed] gave up\n")};
    qsizetype at = 0;
    for (const QString &piece : pieces) {
        const qsizetype found = console.indexOf(piece, at);
        QVERIFY2(found >= 0, qPrintable(QStringLiteral("\"%1\" not found (in order) in console:\n%2").arg(piece, console)));
        at = found + piece.size();
    }
    QVERIFY(console.contains(s("s1")));
    QVERIFY(!console.contains(s("0.5")));
    QVERIFY(!console.contains(s("elsewhere")));
    QCOMPARE(ws.console(s("other")), s("elsewhere"));

    QVERIFY(Workspace::consoleText(ev(1, s("r"), s("metric"), obj({{s("loss"), 1}}))).isEmpty());
    QVERIFY(Workspace::consoleText(ev(1, s("r"), s("progress"), obj({{s("completed"), 1}}))).isEmpty());
    QCOMPARE(Workspace::consoleText(ev(1, s("r"), s("token"), obj({{s("text"), s("tok")}}))), s("tok"));
    QVERIFY(Workspace::consoleText(ev(1, s("r"), s("log"), obj({{s("level"), s("error")}, {s("message"), s("bad")}})))
                .contains(s("[error] bad")));
}

void TestWidgets::workspaceEventsFromCodec()
{
    // Events built by the codec, as the server makes them from producer JSON.
    Workspace ws;
    ws.apply({parsed(1, obj({{s("run"), s("p")}, {s("type"), s("run_started")}, {s("data"), obj({{s("name"), s("Parsed")}})}})),
              parsed(2, obj({{s("run"), s("p")}, {s("type"), s("step_started")}, {s("step"), s("s1")}, {s("data"), QJsonObject()}})),
              parsed(3, obj({{s("run"), s("p")}, {s("type"), s("metric")}, {s("data"), obj({{s("step"), 4}, {s("loss"), s("NaN")}})}}))});
    const RunState *run = ws.run(s("p"));
    QVERIFY(run);
    QCOMPARE(run->name(), s("Parsed"));
    QCOMPARE(run->steps().size(), 1);
    QCOMPARE(run->steps().at(0).status, s("running"));
    QVERIFY(run->series(s("loss")));
    QVERIFY(std::isnan(run->series(s("loss"))->values.at(0)));
}

// ---------------------------------------------------------------------------------------------
// Models

void TestWidgets::runsModelUnderTester()
{
    Workspace ws;
    ws.apply({ev(1, s("early"), s("run_started"), obj({{s("name"), s("Early")}}))});
    RunsModel model(&ws);
    RunsFilterModel filter;
    filter.setSourceModel(&model);
    filter.sort(RunsModel::Progress, Qt::DescendingOrder);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 1); // runs already in the workspace show up at once
    QCOMPARE(model.columnCount(), int(RunsModel::ColumnCount));

    Seq seq{1};
    for (int round = 0; round < 5; ++round) {
        EventBatch batch;
        for (int r = 0; r < 4; ++r) {
            const QString run = QStringLiteral("run%1").arg(r);
            if (round == 0)
                batch.append(ev(seq(), run, s("run_started"), obj({{s("name"), QStringLiteral("Run %1").arg(r)}, {s("kind"), s("training")}})));
            batch.append(ev(seq(), run, s("progress"), obj({{s("completed"), round * 10 + r}, {s("total"), 100}})));
            batch.append(ev(seq(), run, s("metric"), obj({{s("step"), round}, {s("loss"), 1.0 / (round + r + 1)}})));
        }
        ws.apply(batch);
        QCOMPARE(model.rowCount(), 5);
        QCOMPARE(filter.rowCount(), 5);
    }
    for (int row = 0; row < model.rowCount(); ++row) {
        QCOMPARE(model.rowOf(model.runAt(row)), row);
        QCOMPARE(model.index(row, RunsModel::Status).data(RunsModel::RunIdRole).toString(), model.runAt(row));
    }
    const int row2 = model.rowOf(s("run2"));
    QVERIFY(row2 >= 0);
    QCOMPARE(model.index(row2, RunsModel::Name).data().toString(), s("Run 2"));
    QCOMPARE(model.index(row2, RunsModel::Kind).data().toString(), s("training"));
    QCOMPARE(model.index(row2, RunsModel::Progress).data(RunsModel::ProgressRole).toDouble(), 0.42);
    QCOMPARE(model.index(row2, RunsModel::Status).data(RunsModel::StatusRole).toString(), s("running"));
    QCOMPARE(model.index(row2, RunsModel::Loss).data().toString(), Format::metricValue(1.0 / 7));
    QVERIFY(!model.headerData(RunsModel::Progress, Qt::Horizontal).toString().isEmpty());

    // Remove a run in the middle, then the first, then the last.
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    ws.removeRun(s("run1"));
    ws.removeRun(s("early"));
    ws.removeRun(s("run3"));
    QCOMPARE(removed.count(), 3);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(filter.rowCount(), 2);
    QCOMPARE((QStringList{model.runAt(0), model.runAt(1)}), (QStringList{s("run0"), s("run2")}));
    QCOMPARE(model.rowOf(s("run1")), -1);
    QCOMPARE(model.rowOf(s("run2")), 1);

    // A loss going NaN is shown as such.
    ws.apply({ev(seq(), s("run2"), s("metric"), obj({{s("step"), 9}, {s("loss"), s("NaN")}}))});
    QCOMPARE(model.index(model.rowOf(s("run2")), RunsModel::Loss).data().toString(), s("NaN"));
    // More runs after removals still land at the end.
    ws.apply({ev(seq(), s("late"), s("run_started"), obj({{s("name"), s("Late")}}))});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.runAt(2), s("late"));
}

void TestWidgets::stepsModelUnderTester()
{
    Workspace ws;
    StepsModel model(&ws);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 0);
    model.setRun(s("w"));
    QCOMPARE(model.run(), s("w"));
    QCOMPARE(model.rowCount(), 0);

    Seq seq;
    ws.apply({ev(seq(), s("w"), s("run_started"), obj({{s("name"), s("Workflow")}, {s("kind"), s("workflow")}})),
              ev(seq(), s("w"), s("step_started"), obj({{s("name"), s("Fetch")}}), s("fetch")),
              ev(seq(), s("other"), s("step_started"), obj({{s("name"), s("Elsewhere")}}), s("x"))});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.index(0, StepsModel::Name).data().toString(), s("Fetch"));
    QCOMPARE(model.index(0, StepsModel::Status).data(StepsModel::StatusRole).toString(), s("running"));

    ws.apply({ev(seq(), s("w"), s("step_progress"), obj({{s("progress"), 0.25}}), s("fetch")),
              ev(seq(), s("w"), s("step_started"), obj({{s("name"), s("Train")}}), s("train")),
              ev(seq(), s("w"), s("step_started"), obj({{s("name"), s("Eval")}}), s("eval"))});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.index(0, StepsModel::Progress).data(StepsModel::ProgressRole).toDouble(), 0.25);
    QCOMPARE(column(model, StepsModel::Id), (QStringList{s("fetch"), s("train"), s("eval")}));

    ws.apply({ev(seq(), s("w"), s("step_completed"), QJsonObject(), s("fetch")),
              ev(seq(), s("w"), s("step_failed"), obj({{s("message"), s("diverged")}}), s("train"))});
    QCOMPARE(model.index(0, StepsModel::Status).data(StepsModel::StatusRole).toString(), s("completed"));
    QCOMPARE(model.index(0, StepsModel::Progress).data(StepsModel::ProgressRole).toDouble(), 1.0);
    QCOMPARE(model.index(1, StepsModel::Status).data(StepsModel::StatusRole).toString(), s("failed"));
    QCOMPARE(model.index(1, StepsModel::Message).data().toString(), s("diverged"));

    // Switching runs resets; removing the shown run empties the table.
    model.setRun(s("other"));
    QCOMPARE(model.rowCount(), 1);
    model.setRun(s("w"));
    QCOMPARE(model.rowCount(), 3);
    ws.removeRun(s("w"));
    QCOMPARE(model.rowCount(), 0);
    // The run coming back with fewer steps is handled as well.
    model.setRun(s("w"));
    ws.apply({ev(seq(), s("w"), s("step_started"), obj({{s("name"), s("Again")}}), s("again"))});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.index(0, StepsModel::Name).data().toString(), s("Again"));
}

void TestWidgets::eventLogModelUnderTester()
{
    Workspace ws;
    EventLogModel model(1000);
    EventLogFilter filter;
    filter.setSourceModel(&model);
    connect(&ws, &Workspace::applied, &model, &EventLogModel::append);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);

    Seq seq;
    ws.apply({ev(seq(), s("a"), s("run_started"), obj({{s("name"), s("A")}})),
              ev(seq(), s("a"), s("metric"), obj({{s("step"), 1}, {s("loss"), 0.5}})),
              ev(seq(), s("b"), s("log"), obj({{s("level"), s("error")}, {s("message"), s("boom")}}))});
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(EventLogModel::ColumnCount));
    QCOMPARE(column(model, EventLogModel::Run), (QStringList{s("a"), s("a"), s("b")}));
    QCOMPARE(column(model, EventLogModel::Type), (QStringList{s("run_started"), s("metric"), s("log")}));
    QCOMPARE(seqColumn(model), (QVector<qint64>{1, 2, 3}));
    QCOMPARE(model.index(2, EventLogModel::Summary).data(EventLogModel::SeverityRole).toInt(), int(EventLogModel::Failure));
    QVERIFY(model.index(2, EventLogModel::Summary).data().toString().contains(s("boom")));
    QVERIFY(!model.index(0, EventLogModel::Time).data().toString().isEmpty());

    filter.setRun(s("a"));
    QCOMPARE(filter.rowCount(), 2);
    ws.apply({ev(seq(), s("a"), s("token"), obj({{s("text"), s("x")}})), ev(seq(), s("b"), s("token"), obj({{s("text"), s("y")}}))});
    QCOMPARE(filter.rowCount(), 3);
    ws.removeRun(s("a"));
    QCOMPARE(model.rowCount(), 5); // the log keeps what happened
    model.clear();
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(filter.rowCount(), 0);
}

void TestWidgets::eventLogOverflowIsBounded()
{
    const int maxRows = 50;
    EventLogModel model(maxRows);
    QCOMPARE(model.maxRows(), maxRows);
    EventLogFilter filter;
    filter.setSourceModel(&model);
    filter.setType(s("-token"));
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    int mostRows = 0;
    auto watch = [&] { mostRows = qMax(mostRows, model.rowCount()); };
    connect(&model, &QAbstractItemModel::rowsInserted, this, watch);
    connect(&model, &QAbstractItemModel::rowsRemoved, this, watch);

    Seq seq;
    const int sizes[] = {30, 30, 1, 49, 50, 51, 120, 7, 0, 3};
    for (int size : sizes) {
        EventBatch batch;
        for (int i = 0; i < size; ++i)
            batch.append(ev(seq(), QStringLiteral("r%1").arg(i % 3), i % 2 ? s("token") : s("metric"),
                            i % 2 ? obj({{s("text"), s("t")}}) : obj({{s("loss"), i}})));
        model.append(batch);
        QVERIFY2(model.rowCount() <= maxRows, qPrintable(QStringLiteral("%1 rows").arg(model.rowCount())));
        QCOMPARE(model.rowCount(), int(qMin<qint64>(seq.next, maxRows)));
        // The newest survive, oldest first.
        const QVector<qint64> seqs = seqColumn(model);
        for (int row = 0; row < seqs.size(); ++row)
            QCOMPARE(seqs.at(row), seq.next - seqs.size() + 1 + row);
    }
    QVERIFY2(mostRows <= maxRows, qPrintable(QStringLiteral("rowCount reached %1 while rows were inserted").arg(mostRows)));
    QCOMPARE(filter.rowCount(), model.rowCount() - int(column(model, EventLogModel::Type).count(s("token"))));
}

void TestWidgets::eventLogPauseResume()
{
    const int maxRows = 40;
    EventLogModel model(maxRows);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Seq seq;
    auto batchOf = [&](int n) {
        EventBatch batch;
        for (int i = 0; i < n; ++i)
            batch.append(ev(seq(), s("r"), s("log"), obj({{s("message"), QStringLiteral("line %1").arg(seq.next)}})));
        return batch;
    };
    model.append(batchOf(10));
    QCOMPARE(model.rowCount(), 10);

    model.setPaused(true);
    QVERIFY(model.isPaused());
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.append(batchOf(5));
    model.append(batchOf(7));
    QCOMPARE(model.rowCount(), 10); // events wait
    QCOMPARE(model.waiting(), 12);
    QCOMPARE(inserted.count(), 0);

    model.setPaused(false);
    QVERIFY(!model.isPaused());
    QCOMPARE(model.rowCount(), 22); // then appear
    QCOMPARE(model.waiting(), 0);
    QCOMPARE(seqColumn(model).last(), seq.next);
    QCOMPARE(seqColumn(model).first(), 1);

    // Waiting is bounded too, and after resuming the newest are shown, bounded by maxRows.
    model.setPaused(true);
    for (int i = 0; i < 10; ++i) {
        model.append(batchOf(25));
        QVERIFY2(model.waiting() <= maxRows, qPrintable(QStringLiteral("%1 waiting").arg(model.waiting())));
    }
    QCOMPARE(model.rowCount(), 22);
    model.setPaused(false);
    QCOMPARE(model.rowCount(), maxRows);
    const QVector<qint64> seqs = seqColumn(model);
    for (int row = 0; row < seqs.size(); ++row)
        QCOMPARE(seqs.at(row), seq.next - maxRows + 1 + row);
    // clear() also drops what waits.
    model.setPaused(true);
    model.append(batchOf(3));
    model.clear();
    QCOMPARE(model.waiting(), 0);
    model.setPaused(false);
    QCOMPARE(model.rowCount(), 0);
}

// ---------------------------------------------------------------------------------------------
// Filters

namespace {

// Four runs with names, kinds, tags, statuses and progress.
void fillRuns(Workspace &ws)
{
    Seq seq;
    ws.apply({ev(seq(), s("bert-base"), s("run_started"), obj({{s("name"), s("BERT fine-tune")}, {s("kind"), s("training")}})),
              ev(seq(), s("gpt-eval"), s("run_started"), obj({{s("name"), s("GPT evaluation")}, {s("kind"), s("evaluation")}})),
              ev(seq(), s("etl-7"), s("run_started"), obj({{s("name"), s("Nightly ETL")}, {s("kind"), s("workflow")}})),
              ev(seq(), s("chat-1"), s("run_started"), obj({{s("name"), s("Support chat")}, {s("kind"), s("chat")}})),
              ev(seq(), s("bert-base"), s("progress"), obj({{s("completed"), 20}, {s("total"), 100}})),
              ev(seq(), s("gpt-eval"), s("progress"), obj({{s("completed"), 90}, {s("total"), 100}})),
              ev(seq(), s("etl-7"), s("progress"), obj({{s("completed"), 5}, {s("total"), 10}})),
              ev(seq(), s("gpt-eval"), s("run_completed"), QJsonObject()),
              ev(seq(), s("etl-7"), s("run_failed"), obj({{s("message"), s("bad input")}}))});
}

QStringList proxyRuns(const QAbstractItemModel &proxy)
{
    return column(proxy, RunsModel::Status, RunsModel::RunIdRole);
}

QSet<QString> runSet(const QAbstractItemModel &proxy)
{
    const QStringList runs = proxyRuns(proxy);
    return QSet<QString>(runs.cbegin(), runs.cend());
}

} // namespace

void TestWidgets::runsFilterText()
{
    Workspace ws;
    fillRuns(ws);
    RunsModel model(&ws);
    RunsFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(filter.rowCount(), 4);

    filter.setText(s("bert")); // id and name
    QCOMPARE(proxyRuns(filter), QStringList{s("bert-base")});
    filter.setText(s("  EVALUATION ")); // kind, trimmed, case-insensitive
    QCOMPARE(proxyRuns(filter), QStringList{s("gpt-eval")});
    filter.setText(s("nightly")); // name only
    QCOMPARE(proxyRuns(filter), QStringList{s("etl-7")});
    filter.setText(s("chat"));
    QCOMPARE(proxyRuns(filter), QStringList{s("chat-1")});
    filter.setText(s("T")); // several
    QCOMPARE(filter.rowCount(), 4);
    filter.setText(s("no such run"));
    QCOMPARE(filter.rowCount(), 0);
    // A run that arrives while filtered shows when it matches.
    ws.apply({ev(100, s("no-such-run-yet"), s("run_started"), obj({{s("name"), s("no such run")}}))});
    QCOMPARE(proxyRuns(filter), QStringList{s("no-such-run-yet")});
    filter.setText(QString());
    QCOMPARE(filter.rowCount(), 5);
}

void TestWidgets::runsFilterStatus()
{
    Workspace ws;
    fillRuns(ws);
    RunsModel model(&ws);
    RunsFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    filter.setStatus(s("running"));
    QCOMPARE(runSet(filter), (QSet<QString>{s("bert-base"), s("chat-1")}));
    filter.setStatus(s("completed"));
    QCOMPARE(proxyRuns(filter), QStringList{s("gpt-eval")});
    filter.setStatus(s("failed"));
    QCOMPARE(proxyRuns(filter), QStringList{s("etl-7")});
    filter.setText(s("bert")); // both filters apply
    QCOMPARE(filter.rowCount(), 0);
    filter.setStatus(QString());
    QCOMPARE(proxyRuns(filter), QStringList{s("bert-base")});
    filter.setText(QString());
    // A status change moves a run in or out of the filtered view (dynamic filter).
    filter.setStatus(s("failed"));
    ws.apply({ev(200, s("bert-base"), s("run_status"), obj({{s("status"), s("failed")}, {s("message"), s("NaN loss")}}))});
    QCOMPARE(runSet(filter), (QSet<QString>{s("bert-base"), s("etl-7")}));
}

void TestWidgets::runsFilterSortsByProgress()
{
    Workspace ws;
    fillRuns(ws); // progress: bert 0.2, gpt 0.9 (completed at 90 of 100), etl 0.5, chat unknown
    RunsModel model(&ws);
    RunsFilterModel filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(model.index(model.rowOf(s("chat-1")), 0).data(RunsModel::ProgressRole).toDouble() < 0);

    filter.sort(RunsModel::Progress, Qt::AscendingOrder);
    QCOMPARE(proxyRuns(filter), (QStringList{s("chat-1"), s("bert-base"), s("etl-7"), s("gpt-eval")}));
    filter.sort(RunsModel::Progress, Qt::DescendingOrder);
    QCOMPARE(proxyRuns(filter), (QStringList{s("gpt-eval"), s("etl-7"), s("bert-base"), s("chat-1")}));
    // Progress moves on: the order follows (numerically, not as text: 0.95 > 0.5, 0.1 < 0.2).
    ws.apply({ev(300, s("bert-base"), s("progress"), obj({{s("completed"), 95}, {s("total"), 100}})),
              ev(301, s("chat-1"), s("progress"), obj({{s("completed"), 1}, {s("total"), 10}}))});
    QCOMPARE(proxyRuns(filter), (QStringList{s("bert-base"), s("gpt-eval"), s("etl-7"), s("chat-1")}));
    ws.apply({ev(302, s("chat-1"), s("progress"), obj({{s("completed"), 100}, {s("total"), 1000}}))}); // 10 %
    filter.sort(RunsModel::Progress, Qt::AscendingOrder);
    QCOMPARE(proxyRuns(filter), (QStringList{s("chat-1"), s("etl-7"), s("gpt-eval"), s("bert-base")}));
}

void TestWidgets::eventLogFilter()
{
    EventLogModel model;
    EventLogFilter filter;
    filter.setSourceModel(&model);
    QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
    Seq seq;
    model.append({ev(seq(), s("alpha"), s("metric"), obj({{s("step"), 1}, {s("loss"), 0.25}})),
                  ev(seq(), s("alpha"), s("token"), obj({{s("text"), s("Once upon")}})),
                  ev(seq(), s("alpha"), s("log"), obj({{s("level"), s("warning")}, {s("message"), s("Learning rate high")}})),
                  ev(seq(), s("beta"), s("metric"), obj({{s("step"), 1}, {s("acc"), 0.9}})),
                  ev(seq(), s("beta"), s("token"), obj({{s("text"), s("a time")}})),
                  ev(seq(), s("beta"), s("error"), obj({{s("message"), s("CUDA out of memory")}})),
                  ev(seq(), s("gamma"), s("run_started"), obj({{s("name"), s("Gamma")}}))});
    auto seqs = [&] {
        QVector<qint64> out;
        for (int row = 0; row < filter.rowCount(); ++row)
            out.append(filter.index(row, 0).data(EventLogModel::SeqRole).toLongLong());
        return out;
    };
    QCOMPARE(filter.rowCount(), 7);
    filter.setRun(s("alpha"));
    QCOMPARE(seqs(), (QVector<qint64>{1, 2, 3}));
    filter.setType(s("metric"));
    QCOMPARE(seqs(), QVector<qint64>{1});
    filter.setRun(QString());
    QCOMPARE(seqs(), (QVector<qint64>{1, 4}));
    filter.setType(s("-metric,token"));
    QCOMPARE(seqs(), (QVector<qint64>{3, 6, 7}));
    filter.setType(s("-token"));
    QCOMPARE(seqs(), (QVector<qint64>{1, 3, 4, 6, 7}));
    filter.setType(QString());
    QCOMPARE(filter.rowCount(), 7);
    filter.setText(s("cuda")); // summary text, case-insensitive
    QCOMPARE(seqs(), QVector<qint64>{6});
    filter.setText(s("BETA")); // run id
    QCOMPARE(seqs(), (QVector<qint64>{4, 5, 6}));
    filter.setText(s("once"));
    QCOMPARE(seqs(), QVector<qint64>{2});
    filter.setType(s("-metric,token"));
    QCOMPARE(filter.rowCount(), 0);
    filter.setText(s("beta"));
    QCOMPARE(seqs(), QVector<qint64>{6});
    // Live rows go through the filter as they come.
    model.append({ev(seq(), s("beta"), s("log"), obj({{s("message"), s("later")}})),
                  ev(seq(), s("beta"), s("token"), obj({{s("text"), s("hidden")}}))});
    QCOMPARE(seqs(), (QVector<qint64>{6, 8}));
}

// ---------------------------------------------------------------------------------------------
// summarize / severityOf

void TestWidgets::summarize_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QJsonObject>("data");
    QTest::addColumn<QString>("step");
    QTest::addColumn<QStringList>("contains"); // in this order
    QTest::addColumn<QStringList>("absent");

    QTest::newRow("run_started") << s("run_started") << obj({{s("name"), s("BERT")}, {s("kind"), s("training")}}) << QString()
                                 << QStringList{s("BERT"), s("training")} << QStringList();
    QTest::newRow("run_started no name") << s("run_started") << QJsonObject() << QString() << QStringList{s("r1")} << QStringList();
    QTest::newRow("run_status") << s("run_status") << obj({{s("status"), s("paused")}, {s("message"), s("waiting for GPU")}}) << QString()
                                << QStringList{s("paused"), s("waiting for GPU")} << QStringList();
    QTest::newRow("progress") << s("progress") << obj({{s("completed"), 30}, {s("total"), 120}, {s("epoch"), 2}}) << QString()
                              << QStringList{s("30"), s("120"), s("25.0 %"), s("epoch 2")} << QStringList();
    QTest::newRow("metric") << s("metric") << obj({{s("step"), 120}, {s("loss"), 0.42}}) << QString()
                            << QStringList{s("loss=0.42"), s("step 120")} << QStringList{s("step=")};
    QTest::newRow("metric NaN") << s("metric") << obj({{s("step"), 7}, {s("loss"), s("NaN")}, {s("grad_norm"), s("Infinity")}}) << QString()
                                << QStringList{s("grad_norm=+Inf"), s("loss=NaN"), s("step 7")} << QStringList();
    QTest::newRow("step_started") << s("step_started") << obj({{s("name"), s("Fetch data")}}) << s("fetch")
                                  << QStringList{s("fetch"), s("Fetch data")} << QStringList();
    QTest::newRow("step_progress") << s("step_progress") << obj({{s("progress"), 0.5}}) << s("fetch")
                                   << QStringList{s("fetch"), s("50 %")} << QStringList();
    QTest::newRow("step_completed") << s("step_completed") << QJsonObject() << s("fetch") << QStringList{s("fetch")} << QStringList();
    QTest::newRow("step_failed") << s("step_failed") << obj({{s("message"), s("timeout\nafter 30 s")}}) << s("fetch")
                                 << QStringList{s("fetch"), s("timeout"), s("after 30 s")} << QStringList{s("\n")};
    QTest::newRow("log") << s("log") << obj({{s("level"), s("warning")}, {s("message"), s("disk full")}}) << QString()
                         << QStringList{s("warning"), s("disk full")} << QStringList();
    QTest::newRow("log no level") << s("log") << obj({{s("message"), s("plain")}}) << QString() << QStringList{s("info"), s("plain")} << QStringList();
    QTest::newRow("token") << s("token") << obj({{s("text"), s("Hello\nworld")}}) << QString()
                           << QStringList{s("Hello"), s("world")} << QStringList{s("\n")};
    QTest::newRow("token long") << s("token") << obj({{s("text"), QString(5000, QLatin1Char('x'))}}) << QString()
                                << QStringList{s("xxx")} << QStringList{QString(1000, QLatin1Char('x'))};
    QTest::newRow("result") << s("result") << obj({{s("item"), s("q17")}, {s("correct"), false}}) << QString()
                            << QStringList{s("q17"), s("correct")} << QStringList();
    QTest::newRow("error") << s("error") << obj({{s("message"), s("CUDA out of memory")}, {s("code"), s("OOM")}}) << QString()
                           << QStringList{s("OOM"), s("CUDA out of memory")} << QStringList();
    QTest::newRow("run_failed") << s("run_failed") << obj({{s("message"), s("diverged")}}) << QString() << QStringList{s("diverged")} << QStringList();
    QTest::newRow("run_completed") << s("run_completed") << obj({{s("summary"), obj({{s("best_loss"), 0.125}})}}) << QString()
                                   << QStringList{s("best_loss"), s("0.125")} << QStringList();
    QTest::newRow("custom type") << s("quality_check") << obj({{s("score"), 0.75}, {s("verdict"), s("ok")}}) << QString()
                                 << QStringList{s("score"), s("0.75"), s("verdict")} << QStringList();
}

void TestWidgets::summarize()
{
    QFETCH(QString, type);
    QFETCH(QJsonObject, data);
    QFETCH(QString, step);
    QFETCH(QStringList, contains);
    QFETCH(QStringList, absent);
    const QString summary = EventLogModel::summarize(ev(1, s("r1"), type, data, step));
    qsizetype at = 0;
    for (const QString &piece : std::as_const(contains)) {
        const qsizetype found = summary.indexOf(piece, at);
        QVERIFY2(found >= 0, qPrintable(QStringLiteral("\"%1\" not in summary \"%2\"").arg(piece, summary)));
        if (contains.size() > 1 && type != QLatin1String("metric") && type != QLatin1String("result")
            && type != QLatin1String("quality_check") && type != QLatin1String("run_completed"))
            at = found + piece.size();
    }
    for (const QString &piece : std::as_const(absent))
        QVERIFY2(!summary.contains(piece), qPrintable(QStringLiteral("\"%1\" in summary \"%2\"").arg(piece.left(40), summary.left(300))));
    QVERIFY(summary.size() <= 400);
}

void TestWidgets::severityOf_data()
{
    QTest::addColumn<QString>("type");
    QTest::addColumn<QJsonObject>("data");
    QTest::addColumn<int>("severity");
    const int normal = EventLogModel::Normal, success = EventLogModel::Success, warning = EventLogModel::Warning,
              failure = EventLogModel::Failure;
    QTest::newRow("run_started") << s("run_started") << obj({{s("name"), s("x")}}) << normal;
    QTest::newRow("run_status running") << s("run_status") << obj({{s("status"), s("running")}}) << normal;
    QTest::newRow("progress") << s("progress") << obj({{s("completed"), 1}, {s("total"), 2}}) << normal;
    QTest::newRow("metric finite") << s("metric") << obj({{s("step"), 1}, {s("loss"), 0.5}}) << normal;
    QTest::newRow("metric NaN") << s("metric") << obj({{s("step"), 1}, {s("loss"), s("NaN")}}) << failure;
    QTest::newRow("metric +Inf") << s("metric") << obj({{s("step"), 1}, {s("loss"), s("Infinity")}}) << failure;
    QTest::newRow("metric -Inf") << s("metric") << obj({{s("step"), 1}, {s("loss"), s("-Infinity")}}) << failure;
    QTest::newRow("step_started") << s("step_started") << QJsonObject() << normal;
    QTest::newRow("step_progress") << s("step_progress") << obj({{s("progress"), 0.2}}) << normal;
    QTest::newRow("step_completed") << s("step_completed") << QJsonObject() << success;
    QTest::newRow("step_failed") << s("step_failed") << obj({{s("message"), s("x")}}) << failure;
    QTest::newRow("log debug") << s("log") << obj({{s("level"), s("debug")}, {s("message"), s("x")}}) << normal;
    QTest::newRow("log info") << s("log") << obj({{s("level"), s("info")}, {s("message"), s("x")}}) << normal;
    QTest::newRow("log warning") << s("log") << obj({{s("level"), s("warning")}, {s("message"), s("x")}}) << warning;
    QTest::newRow("log error") << s("log") << obj({{s("level"), s("error")}, {s("message"), s("x")}}) << failure;
    QTest::newRow("token") << s("token") << obj({{s("text"), s("x")}}) << normal;
    QTest::newRow("result ok") << s("result") << obj({{s("success"), true}}) << normal;
    QTest::newRow("result success false") << s("result") << obj({{s("success"), false}}) << warning;
    QTest::newRow("result correct false") << s("result") << obj({{s("correct"), false}}) << warning;
    // The run's state counts a result with an "error" as an error: the log must not show it as normal.
    QTest::newRow("result with error") << s("result") << obj({{s("error"), s("timeout")}}) << warning;
    QTest::newRow("error") << s("error") << obj({{s("message"), s("x")}}) << failure;
    QTest::newRow("run_completed") << s("run_completed") << QJsonObject() << success;
    QTest::newRow("run_failed") << s("run_failed") << obj({{s("message"), s("x")}}) << failure;
    QTest::newRow("custom") << s("agent_spawned") << obj({{s("agent"), s("a1")}}) << normal;
}

void TestWidgets::severityOf()
{
    QFETCH(QString, type);
    QFETCH(QJsonObject, data);
    QFETCH(int, severity);
    const Event event = ev(1, s("r"), type, data, type.startsWith(QLatin1String("step_")) ? s("s1") : QString());
    QCOMPARE(int(EventLogModel::severityOf(event)), severity);
    // The model shows it: the severity role, and a colour for anything but normal.
    EventLogModel model;
    model.append({event});
    QCOMPARE(model.index(0, EventLogModel::Summary).data(EventLogModel::SeverityRole).toInt(), severity);
    QCOMPARE(model.index(0, EventLogModel::Summary).data(Qt::ForegroundRole).isValid(), severity != EventLogModel::Normal);
}

// ---------------------------------------------------------------------------------------------
// ProgressDelegate

void TestWidgets::barRect_data()
{
    QTest::addColumn<QRect>("cell");
    QTest::newRow("typical") << QRect(0, 0, 140, 30);
    QTest::newRow("offset") << QRect(37, 120, 200, 24);
    QTest::newRow("tall") << QRect(10, 10, 300, 80);
    QTest::newRow("odd height") << QRect(5, 7, 101, 25);
    QTest::newRow("short") << QRect(0, 0, 100, 10);
    QTest::newRow("tiny") << QRect(3, 4, 5, 4);
    QTest::newRow("one pixel") << QRect(0, 0, 1, 1);
    QTest::newRow("empty") << QRect(50, 50, 0, 0);
}

void TestWidgets::barRect()
{
    QFETCH(QRect, cell);
    const QRect bar = ProgressDelegate::barRect(cell);
    QVERIFY2(bar.width() >= 0 && bar.height() >= 0,
             qPrintable(QStringLiteral("bar %1x%2 for a %3x%4 cell").arg(bar.width()).arg(bar.height()).arg(cell.width()).arg(cell.height())));
    if (bar.isEmpty())
        return; // nothing is painted (and the delegate skips bars under 4 pixels)
    QVERIFY2(cell.contains(bar),
             qPrintable(QStringLiteral("bar (%1,%2 %3x%4) outside cell (%5,%6 %7x%8)")
                            .arg(bar.x()).arg(bar.y()).arg(bar.width()).arg(bar.height())
                            .arg(cell.x()).arg(cell.y()).arg(cell.width()).arg(cell.height())));
    const int above = bar.top() - cell.top();
    const int below = cell.bottom() - bar.bottom();
    QVERIFY2(qAbs(above - below) <= 1, qPrintable(QStringLiteral("%1 px above, %2 px below").arg(above).arg(below)));
    // Horizontally it has a margin on both sides, the same.
    QCOMPARE(bar.left() - cell.left(), cell.right() - bar.right());
    QVERIFY(bar.height() <= 18);
}

void TestWidgets::progressDelegatePaints()
{
    QStandardItemModel model(1, 1);
    const int progressRole = Qt::UserRole + 1, statusRole = Qt::UserRole + 2;
    model.setData(model.index(0, 0), 0.5, progressRole);
    model.setData(model.index(0, 0), s("running"), statusRole);
    ProgressDelegate delegate(progressRole, statusRole);

    QImage image(240, 30, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::white);
    QStyleOptionViewItem option;
    option.rect = image.rect();
    option.palette = QApplication::palette();
    option.palette.setColor(QPalette::Base, Qt::white);
    option.palette.setColor(QPalette::Text, Qt::black);
    option.font = QApplication::font();
    option.state = QStyle::State_Enabled;
    {
        QPainter painter(&image);
        delegate.paint(&painter, option, model.index(0, 0));
    }
    const QRect bar = ProgressDelegate::barRect(option.rect);
    QVERIFY(bar.width() > 40 && bar.height() > 8);
    const int middle = bar.left() + bar.width() / 2;
    auto coloured = [&](int x0, int x1) {
        int n = 0;
        for (int y = bar.top() + 3; y <= bar.bottom() - 3; ++y)
            for (int x = x0; x <= x1; ++x)
                n += isColoured(image.pixel(x, y));
        return n;
    };
    const int leftArea = (middle - 4 - (bar.left() + 3) + 1) * (bar.height() - 6);
    const int left = coloured(bar.left() + 3, middle - 4);
    const int right = coloured(middle + 4, bar.right() - 3);
    QVERIFY2(left > leftArea / 2, qPrintable(QStringLiteral("%1 of %2 pixels coloured in the left half").arg(left).arg(leftArea)));
    QVERIFY2(right == 0, qPrintable(QStringLiteral("%1 coloured pixels in the right half").arg(right)));
    // The fill has the status colour's hue.
    const QColor sample = QColor::fromRgba(image.pixel(bar.left() + 6, bar.top() + 4));
    QVERIFY2(qAbs(sample.hsvHue() - Format::statusColor(s("running")).hsvHue()) <= 12,
             qPrintable(QStringLiteral("hue %1").arg(sample.hsvHue())));

    // Unknown progress (-1): nothing but the background.
    model.setData(model.index(0, 0), -1.0, progressRole);
    image.fill(Qt::white);
    {
        QPainter painter(&image);
        delegate.paint(&painter, option, model.index(0, 0));
    }
    QCOMPARE(coloured(bar.left() + 3, bar.right() - 3), 0);
    QCOMPARE(statsOf(image).foreground, 0);
}

// ---------------------------------------------------------------------------------------------
// MetricChart and RunView

void TestWidgets::metricChartDecimatesAndMarks()
{
    Workspace ws;
    Seq seq;
    const int points = 100000;
    ws.apply(lossRun(s("big"), points, seq));
    QCOMPARE(ws.run(s("big"))->series(s("loss"))->size(), points);

    MetricChart chart(&ws, s("loss"), {s("loss")});
    chart.setRuns({s("big")});
    chart.resize(900, 500);
    chart.show();
    QVERIFY(QTest::qWaitForWindowExposed(&chart));
    // The plot area has its size (decimation is to its pixel columns).
    QTRY_VERIFY(chart.view()->chart()->plotArea().width() > 100);
    chart.refresh();
    QVERIFY2(chart.pointsDrawn() > 0, "nothing drawn");
    QVERIFY2(chart.pointsDrawn() < points / 5,
             qPrintable(QStringLiteral("%1 points drawn for %2 (not decimated)").arg(chart.pointsDrawn()).arg(points)));
    QVERIFY2(chart.nonFiniteMarked() > 0, "NaN and +Infinity not marked");
    QVERIFY(chart.nonFiniteMarked() <= 3);

    const QImage image = chart.grab().toImage();
    QVERIFY(!image.isNull());
    const ImageStats stats = statsOf(image);
    QVERIFY2(stats.distinctColors > 20, qPrintable(QStringLiteral("%1 colours").arg(stats.distinctColors)));
    QVERIFY2(stats.foreground > stats.pixels / 100,
             qPrintable(QStringLiteral("%1 of %2 pixels differ from the background").arg(stats.foreground).arg(stats.pixels)));
    // The line's colour (first series colour) is on the image.
    const QColor lineColor = seriesColor(0);
    qint64 linePixels = 0;
    const QImage argb = image.convertToFormat(QImage::Format_ARGB32);
    for (int y = 0; y < argb.height(); ++y)
        for (int x = 0; x < argb.width(); ++x) {
            const QColor c = QColor::fromRgb(argb.pixel(x, y));
            linePixels += qAbs(c.red() - lineColor.red()) < 24 && qAbs(c.green() - lineColor.green()) < 24
                && qAbs(c.blue() - lineColor.blue()) < 24;
        }
    QVERIFY2(linePixels > 200, qPrintable(QStringLiteral("%1 pixels in the line colour").arg(linePixels)));

    // Without smoothing only the raw line is drawn: still decimated, still > 0.
    ChartOptions options;
    options.smoothing = 0;
    chart.setOptions(options);
    QVERIFY(chart.pointsDrawn() > 0 && chart.pointsDrawn() < points / 10);
    QVERIFY(chart.nonFiniteMarked() > 0);

    // A chart of a run without the metric draws nothing and marks nothing.
    MetricChart empty(&ws, s("acc"), {s("accuracy")});
    empty.setRuns({s("big")});
    empty.resize(900, 500);
    empty.refresh();
    QCOMPARE(empty.pointsDrawn(), 0);
    QCOMPARE(empty.nonFiniteMarked(), 0);
}

void TestWidgets::metricChartExportCsv()
{
    Workspace ws;
    Seq seq;
    const int points = 100000;
    ws.apply(lossRun(s("big"), points, seq));
    MetricChart chart(&ws, s("loss"), {s("loss")});
    chart.setRuns({s("big")});
    chart.resize(900, 500);
    chart.refresh();
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString file = dir.filePath(s("loss.csv"));
    QVERIFY(chart.exportCsv(file));
    QFile in(file);
    QVERIFY(in.open(QIODevice::ReadOnly | QIODevice::Text));
    QTextStream stream(&in);
    QString header = stream.readLine();
    QCOMPARE(header, s("step,time,loss")); // the table every CSV export writes
    const QStringList columns = header.split(QLatin1Char(','));
    const int stepColumn = int(columns.indexOf(s("step")));
    const int valueColumn = int(columns.indexOf(s("loss")));
    QVERIFY(stepColumn >= 0 && valueColumn >= 0);
    const MetricSeries *series = ws.run(s("big"))->series(s("loss"));
    int rows = 0, nan = 0, inf = 0;
    while (!stream.atEnd()) {
        const QStringList cells = stream.readLine().split(QLatin1Char(','));
        QVERIFY(cells.size() == columns.size());
        QVERIFY(rows < points);
        QCOMPARE(cells.at(stepColumn).toLongLong(), series->steps.at(rows));
        const QString value = cells.at(valueColumn);
        const double expected = series->values.at(rows);
        if (std::isnan(expected)) {
            QCOMPARE(value, s("NaN"));
            ++nan;
        } else if (std::isinf(expected)) {
            QCOMPARE(value, s("Infinity"));
            ++inf;
        } else {
            bool ok = false;
            QCOMPARE(value.toDouble(&ok), expected); // every digit kept
            QVERIFY(ok);
        }
        ++rows;
    }
    QCOMPARE(rows, points);
    QCOMPARE(nan, 2);
    QCOMPARE(inf, 1);
}

void TestWidgets::groupMetrics_data()
{
    QTest::addColumn<QStringList>("names");
    QTest::addColumn<QStringList>("titles");
    QTest::addColumn<QList<QStringList>>("members");
    QTest::newRow("loss and eval_loss") << QStringList{s("accuracy"), s("eval_loss"), s("loss"), s("lr")}
                                        << QStringList{s("loss"), s("accuracy"), s("lr")}
                                        << QList<QStringList>{{s("loss"), s("eval_loss")}, {s("accuracy")}, {s("lr")}};
    QTest::newRow("loss listed last") << QStringList{s("lr"), s("val_loss"), s("eval_loss"), s("loss")}
                                      << QStringList{s("loss"), s("lr")}
                                      << QList<QStringList>{{s("loss"), s("eval_loss"), s("val_loss")}, {s("lr")}};
    QTest::newRow("no loss") << QStringList{s("accuracy"), s("lr")} << QStringList{s("accuracy"), s("lr")}
                             << QList<QStringList>{{s("accuracy")}, {s("lr")}};
    QTest::newRow("only eval_loss") << QStringList{s("eval_loss"), s("samples_per_second")}
                                    << QStringList{s("loss"), s("samples_per_second")}
                                    << QList<QStringList>{{s("eval_loss")}, {s("samples_per_second")}};
    QTest::newRow("empty") << QStringList() << QStringList() << QList<QStringList>();
}

void TestWidgets::groupMetrics()
{
    QFETCH(QStringList, names);
    QFETCH(QStringList, titles);
    QFETCH(QList<QStringList>, members);
    const auto groups = RunView::groupMetrics(names);
    QStringList gotTitles;
    QList<QStringList> gotMembers;
    for (const auto &group : groups) {
        gotTitles.append(group.first);
        gotMembers.append(group.second);
    }
    QCOMPARE(gotTitles, titles);
    QCOMPARE(gotMembers, members);
}

void TestWidgets::runViewShowsOneChartPerGroup()
{
    Workspace ws;
    Seq seq;
    EventBatch batch{ev(seq(), s("r"), s("run_started"), obj({{s("name"), s("Run R")}, {s("kind"), s("training")},
                                                            {s("config"), obj({{s("lr"), 0.001}})}}))};
    for (int i = 0; i < 200; ++i) {
        QJsonObject data = obj({{s("step"), i}, {s("loss"), 1.0 / (i + 1)}, {s("lr"), 0.001}});
        if (i % 10 == 0) {
            data.insert(s("eval_loss"), 1.2 / (i + 1));
            data.insert(s("accuracy"), i / 200.0);
        }
        batch.append(ev(seq(), s("r"), s("metric"), data));
    }
    batch.append(ev(seq(), s("other"), s("metric"), obj({{s("step"), 1}, {s("reward"), 3}})));
    ws.apply(batch);

    RunView view(&ws);
    view.resize(1200, 900);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY(view.charts().isEmpty()); // no run selected
    view.setRuns({s("r")});
    QCOMPARE(view.runs(), QStringList{s("r")});
    QList<MetricChart *> charts = view.charts();
    QStringList titles;
    for (MetricChart *chart : std::as_const(charts))
        titles.append(chart->title());
    QCOMPARE(titles, (QStringList{s("loss"), s("accuracy"), s("lr")}));
    QCOMPARE(charts.first()->metrics(), (QStringList{s("loss"), s("eval_loss")}));
    for (MetricChart *chart : std::as_const(charts)) {
        QCOMPARE(view.tabs()->currentIndex(), 0);
        QTRY_VERIFY2_WITH_TIMEOUT(chart->isVisible(), qPrintable(chart->title()), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(chart->pointsDrawn() > 0, 5000);
    }

    // A new metric arrives: the view grows a chart for it (charts redraw on a timer).
    ws.apply({ev(seq(), s("r"), s("metric"), obj({{s("step"), 300}, {s("grad_norm"), 2.5}}))});
    QTRY_COMPARE_WITH_TIMEOUT(view.charts().size(), 4, 5000);
    titles.clear();
    for (MetricChart *chart : view.charts())
        titles.append(chart->title());
    QCOMPARE(titles, (QStringList{s("loss"), s("accuracy"), s("grad_norm"), s("lr")}));

    // Another run: its own groups; removing the shown run clears the charts.
    view.setRuns({s("other")});
    QCOMPARE(view.charts().size(), 1);
    QCOMPARE(view.charts().first()->title(), s("reward"));
    view.setRuns({s("r")});
    QCOMPARE(view.charts().size(), 4);
    ws.removeRun(s("r"));
    QVERIFY(view.runs().isEmpty());
    QVERIFY(view.charts().isEmpty());
}

void TestWidgets::eventLogPrependsOlderRows()
{
    EventLogModel model(5);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.prepend({ev(1, QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("a")}})});
    QCOMPARE(model.rowCount(), 1); // into an empty log
    model.clear();
    EventBatch live;
    for (qint64 seq = 10; seq < 13; ++seq)
        live.append(ev(seq, QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}));
    model.append(live);
    QCOMPARE(model.oldestSeq(), 10);
    EventBatch older;
    for (qint64 seq = 7; seq < 12; ++seq) // 10 and 11 are shown already: not repeated
        older.append(ev(seq, QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("o")}}));
    model.prepend(older);
    QCOMPARE(model.rowCount(), 6);
    QVector<qint64> seqs;
    for (int row = 0; row < model.rowCount(); ++row)
        seqs.append(model.index(row, 0).data(EventLogModel::SeqRole).toLongLong());
    QCOMPARE(seqs, (QVector<qint64>{7, 8, 9, 10, 11, 12}));
    // New live events push the older rows out first, back to the bound.
    model.append({ev(13, QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("y")}})});
    QCOMPARE(model.rowCount(), 5);
    QCOMPARE(model.oldestSeq(), 9);
}

// ---------------------------------------------------------------------------------------------
// CSV, sections, progress, notifications, rates, column widths

void TestWidgets::metricsCsvOneRowPerStep()
{
    Workspace ws;
    Seq seq;
    EventBatch batch{ev(seq(), s("r"), s("run_started"), obj({{s("name"), s("R")}}))};
    for (int step = 1; step <= 5; ++step) {
        QJsonObject data = obj({{s("step"), step}, {s("train/loss"), 1.0 / step}, {s("lr"), 0.01}});
        batch.append(ev(seq(), s("r"), s("metric"), data));
        if (step % 2 == 0) // logged by another event at the same step: same row
            batch.append(ev(seq(), s("r"), s("metric"), obj({{s("step"), step}, {s("eval/acc"), step / 10.0}})));
    }
    ws.apply(batch);
    const QStringList lines = QString::fromUtf8(ws.metricsCsv({s("r")})).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 6); // header and one row per step
    QCOMPARE(lines.first(), s("step,time,eval/acc,lr,train/loss"));
    QVERIFY2(lines.at(2).startsWith(s("2,")), qPrintable(lines.at(2)));
    const QStringList row2 = lines.at(2).split(QLatin1Char(','));
    QCOMPARE(row2.size(), 5);
    QVERIFY2(row2.at(1).endsWith(QLatin1Char('Z')), qPrintable(row2.at(1))); // RFC 3339 time
    QCOMPARE(row2.at(2).toDouble(), 0.2);
    QCOMPARE(row2.at(4).toDouble(), 0.5);
    QCOMPARE(lines.at(1).split(QLatin1Char(',')).at(2), QString()); // no eval at step 1

    // A chart exports the same table for its own metrics.
    MetricChart chart(&ws, s("loss"), {s("train/loss"), s("lr")});
    chart.setRuns({s("r")});
    QTemporaryDir dir;
    const QString file = dir.filePath(s("chart.csv"));
    QVERIFY(chart.exportCsv(file));
    QFile in(file);
    QVERIFY(in.open(QIODevice::ReadOnly));
    const QStringList chartLines = QString::fromUtf8(in.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(chartLines.size(), 6);
    QCOMPARE(chartLines.first(), s("step,time,train/loss,lr"));
    // Several runs: a column per run and metric.
    ws.apply({ev(seq(), s("q"), s("metric"), obj({{s("step"), 7}, {s("lr"), 0.5}}))});
    QVERIFY(ws.metricsCsv({s("r"), s("q")}, {s("lr")}).startsWith("step,time,r:lr,q:lr\n"));
}

void TestWidgets::sectionMetrics_data()
{
    QTest::addColumn<QStringList>("names");
    QTest::addColumn<QStringList>("layout"); // "prefix|title=metric+metric" per chart
    QTest::newRow("flat names stay as before") << QStringList{s("accuracy"), s("eval_loss"), s("loss")}
                                               << QStringList{s("|loss=loss+eval_loss"), s("|accuracy=accuracy")};
    QTest::newRow("train and eval prefixes")
        << QStringList{s("eval/loss"), s("lr"), s("train/acc"), s("train/loss"), s("train/val_loss")}
        << QStringList{s("|lr=lr"), s("eval|loss=eval/loss"), s("train|loss=train/loss+train/val_loss"), s("train|acc=train/acc")};
    QTest::newRow("deeper names keep the rest") << QStringList{s("sys/cpu"), s("sys/gpu/0/util")}
                                                << QStringList{s("sys|cpu=sys/cpu"), s("sys|gpu/0/util=sys/gpu/0/util")};
    QTest::newRow("a bare slash is no prefix") << QStringList{s("/x"), s("y/")} << QStringList{s("|/x=/x"), s("|y/=y/")};
}

void TestWidgets::sectionMetrics()
{
    QFETCH(QStringList, names);
    QFETCH(QStringList, layout);
    QStringList got;
    for (const RunView::Section &section : RunView::sectionMetrics(names)) {
        for (const auto &chart : section.charts)
            got.append(section.prefix + QLatin1Char('|') + chart.first + QLatin1Char('=') + chart.second.join(QLatin1Char('+')));
    }
    QCOMPARE(got, layout);
}

void TestWidgets::runViewSectionsCollapse()
{
    Workspace ws;
    Seq seq;
    EventBatch batch{ev(seq(), s("r"), s("run_started"), obj({{s("name"), s("R")}}))};
    for (int i = 0; i < 50; ++i)
        batch.append(ev(seq(), s("r"), s("metric"), obj({{s("step"), i}, {s("train/loss"), 1.0 / (i + 1)},
                                                        {s("train/acc"), i / 50.0}, {s("eval/loss"), 1.1 / (i + 1)},
                                                        {s("lr"), 0.001}})));
    ws.apply(batch);
    RunView view(&ws);
    view.resize(1000, 1400);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setRuns({s("r")});
    QCOMPARE(view.sections(), (QStringList{s("eval"), s("train")}));
    QStringList train;
    for (MetricChart *chart : view.charts(s("train")))
        train.append(chart->title());
    QCOMPARE(train, (QStringList{s("loss"), s("acc")}));
    QCOMPARE(view.charts(QString()).size(), 1); // lr, without a header
    QToolButton *header = view.sectionHeader(s("train"));
    QVERIFY(header);
    QVERIFY(header->text().startsWith(s("train")));
    QTRY_VERIFY(header->isVisible());
    for (MetricChart *chart : view.charts(s("train")))
        QTRY_VERIFY_WITH_TIMEOUT(chart->isVisible(), 5000);

    // A click on the header folds the section away; the others stay.
    QTest::mouseClick(header, Qt::LeftButton);
    QVERIFY(view.isSectionCollapsed(s("train")));
    for (MetricChart *chart : view.charts(s("train")))
        QVERIFY(!chart->isVisible());
    QVERIFY(header->isVisible());
    for (MetricChart *chart : view.charts(s("eval")))
        QVERIFY(chart->isVisible());
    // Folded it stays when the charts are made again (a new metric), and opens on another click.
    ws.apply({ev(seq(), s("r"), s("metric"), obj({{s("step"), 60}, {s("train/grad_norm"), 2.0}}))});
    QTRY_COMPARE_WITH_TIMEOUT(view.charts(s("train")).size(), 3, 5000);
    QVERIFY(view.isSectionCollapsed(s("train")));
    for (MetricChart *chart : view.charts(s("train")))
        QVERIFY(!chart->isVisible());
    QTest::mouseClick(view.sectionHeader(s("train")), Qt::LeftButton);
    QVERIFY(!view.isSectionCollapsed(s("train")));
    for (MetricChart *chart : view.charts(s("train"))) {
        QTRY_VERIFY_WITH_TIMEOUT(chart->isVisible(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(chart->pointsDrawn() > 0, 5000);
    }
}

namespace {

// A run that got to 320,000 of 1,000,000 and then said it completed.
EventBatch stoppedEarlyRun(Seq &seq)
{
    return {ev(seq(), s("short"), s("run_started"), obj({{s("name"), s("Short run")}, {s("kind"), s("training")}})),
            ev(seq(), s("short"), s("progress"), obj({{s("completed"), 320000}, {s("total"), 1000000}})),
            ev(seq(), s("short"), s("run_completed"), QJsonObject())};
}

// The share of the bar's inner width that is filled with colour, on its middle line.
double filledShare(const QImage &image, const QRect &bar)
{
    int filled = 0, inner = 0;
    const int y = bar.center().y();
    for (int x = bar.left() + 2; x <= bar.right() - 2; ++x) {
        ++inner;
        filled += isColoured(image.pixel(x, y));
    }
    return inner ? double(filled) / inner : 0;
}

} // namespace

void TestWidgets::progressStaysTrueAfterEarlyEnd()
{
    Workspace ws;
    Seq seq;
    ws.apply(stoppedEarlyRun(seq));
    QVERIFY(ws.run(s("short"))->isFinished());

    // The runs table: 32 %, "stopped early", the protocol's status kept for filtering.
    RunsModel model(&ws);
    const int row = model.rowOf(s("short"));
    const QModelIndex progress = model.index(row, RunsModel::Progress);
    QCOMPARE(progress.data(RunsModel::ProgressRole).toDouble(), 0.32);
    QCOMPARE(progress.data().toString(), Format::percent(0.32, 1));
    QCOMPARE(model.index(row, RunsModel::Status).data().toString(), s("stopped early"));
    QCOMPARE(model.index(row, RunsModel::Status).data(RunsModel::StatusRole).toString(), s("completed"));
    QVERIFY(model.index(row, RunsModel::Status).data(Qt::ToolTipRole).toString().contains(s("stopped at")));

    // Its progress delegate paints a third of a bar, not a full one.
    ProgressDelegate delegate(RunsModel::ProgressRole, RunsModel::StatusRole);
    QImage image(300, 30, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::white);
    QStyleOptionViewItem option;
    option.rect = image.rect();
    option.palette = QApplication::palette();
    option.palette.setColor(QPalette::Base, Qt::white);
    option.font = QApplication::font();
    option.state = QStyle::State_Enabled;
    {
        QPainter painter(&image);
        delegate.paint(&painter, option, progress);
    }
    const double share = filledShare(image, ProgressDelegate::barRect(option.rect));
    QVERIFY2(share > 0.25 && share < 0.40, qPrintable(QStringLiteral("%1 of the bar filled").arg(share)));

    // A run that really completed stays at 100 % and "completed".
    ws.apply({ev(seq(), s("full"), s("progress"), obj({{s("completed"), 10}, {s("total"), 10}})),
              ev(seq(), s("full"), s("run_completed"), QJsonObject())});
    QCOMPARE(model.index(model.rowOf(s("full")), RunsModel::Status).data().toString(), Format::statusText(s("completed")));
    QCOMPARE(model.index(model.rowOf(s("full")), RunsModel::Progress).data(RunsModel::ProgressRole).toDouble(), 1.0);

    // The run view says the same.
    RunView view(&ws);
    view.setRuns({s("short")});
    auto *bar = view.findChild<QProgressBar *>(s("runProgress"));
    QVERIFY(bar);
    QCOMPARE(bar->value(), 320);
    QCOMPARE(bar->text(), Format::percent(0.32, 1));
    auto *status = view.findChild<QLabel *>(s("runStatus"));
    QVERIFY(status);
    QVERIFY2(status->text().contains(s("stopped early")), qPrintable(status->text()));
    auto *details = view.findChild<QLabel *>(s("runDetails"));
    QVERIFY(details);
    QVERIFY2(details->text().contains(s("stopped at")), qPrintable(details->text()));
}

void TestWidgets::notifiesOnlyWhatHappensLive()
{
    Workspace ws;
    QSignalSpy ended(&ws, &Workspace::runEnded);
    Seq seq;
    // History stored before the window opened: two runs that ended then.
    EventBatch history = stoppedEarlyRun(seq);
    history.append(ev(seq(), s("old-fail"), s("run_failed"), obj({{s("message"), s("out of memory")}})));
    ws.setHistoryEnd(seq.next, QDateTime::currentMSecsSinceEpoch());
    ws.apply(history);
    QCOMPARE(ws.run(s("old-fail"))->status(), s("failed"));
    QCOMPARE(ended.count(), 0);

    // Live: a run fails and another completes while the window is open.
    ws.apply({ev(seq(), s("live"), s("run_started"), obj({{s("name"), s("Live run")}})),
              ev(seq(), s("live"), s("run_failed"), obj({{s("message"), s("NaN")}})),
              ev(seq(), s("live2"), s("run_completed"), QJsonObject())});
    QCOMPARE(ended.count(), 2);
    QCOMPARE(ended.at(0).at(0).toString(), s("live"));
    QCOMPARE(ended.at(0).at(1).toBool(), true);
    QCOMPARE(ended.at(1).at(0).toString(), s("live2"));
    QCOMPARE(ended.at(1).at(1).toBool(), false);
}

void TestWidgets::silentRunsOnlyWhileOpen()
{
    Workspace ws;
    const qint64 opened = BaseMs + 1000000;
    ws.setHistoryEnd(2, opened);
    // Silent since long before the window opened: it went quiet with nobody watching.
    ws.apply({ev(1, s("forgotten"), s("run_started"), {}, QString(), BaseMs),
              ev(2, s("forgotten"), s("progress"), obj({{s("completed"), 1}, {s("total"), 9}}), QString(), BaseMs + 1000)});
    QCOMPARE(ws.run(s("forgotten"))->status(), s("running"));
    // Alive while the window is open, then silent.
    ws.apply({ev(3, s("hung"), s("run_started"), {}, QString(), opened + 1000)});
    const qint64 silence = 300000;
    QCOMPARE(ws.silentRuns(opened + 2000, silence), QStringList());
    QCOMPARE(ws.silentRuns(opened + 1000 + silence, silence), QStringList{s("hung")});
    // A run from the history that goes silent after the window opened counts too.
    Workspace later;
    later.setHistoryEnd(1, opened);
    later.apply({ev(1, s("just-before"), s("run_started"), {}, QString(), opened - 1000)});
    QCOMPARE(later.silentRuns(opened - 1000 + silence, silence), QStringList{s("just-before")});
}

void TestWidgets::rates_data()
{
    QTest::addColumn<QString>("metric");
    QTest::addColumn<double>("value");
    QTest::addColumn<QString>("text");
    QTest::newRow("samples") << s("samples_per_second") << 1180.4 << QLocale().toString(1180.0, 'f', 0) + s(" samples/s");
    QTest::newRow("tokens") << s("tokens_per_second") << 42.5 << Format::metricValue(42.5) + s(" tokens/s");
    QTest::newRow("steps") << s("steps_per_second") << 3.25 << Format::metricValue(3.25) + s(" steps/s");
    QTest::newRow("events") << s("events_per_second") << 900.0 << s("900 events/s");
    QTest::newRow("it") << s("it_per_s") << 12.0 << s("12 it/s");
    QTest::newRow("any _per_second") << s("images_per_second") << 5.0 << s("5 images/s");
    QTest::newRow("unnamed") << s("throughput") << 7.0 << s("7/s");
}

void TestWidgets::rates()
{
    QFETCH(QString, metric);
    QFETCH(double, value);
    QFETCH(QString, text);
    QCOMPARE(Format::rate(value, Format::rateUnit(metric)), text);
}

void TestWidgets::throughputCarriesUnit()
{
    Workspace ws;
    ws.apply({ev(1, s("chat"), s("metric"), obj({{s("step"), 1}, {s("tokens_per_second"), 42.5}})),
              ev(2, s("train"), s("metric"), obj({{s("step"), 1}, {s("samples_per_second"), 1180.0}}))});
    RunsModel model(&ws);
    QCOMPARE(model.index(model.rowOf(s("chat")), RunsModel::Throughput).data().toString(),
             Format::metricValue(42.5) + s(" tokens/s"));
    QVERIFY(model.index(model.rowOf(s("train")), RunsModel::Throughput).data().toString().endsWith(s(" samples/s")));
    RunView view(&ws);
    view.setRuns({s("chat")});
    QVERIFY(view.findChild<QLabel *>(s("runDetails"))->text().contains(s("tokens/s")));
}

void TestWidgets::tablesReadableAt1500()
{
    // The demo's runs, named as people name them, with ids that are not names.
    Workspace ws;
    Seq seq;
    const QList<QPair<QString, QString>> runs{{s("train-resnet50-1204-194055-1"), s("resnet50 lr=3e-4")},
                                              {s("eval-reasoning-1204-194055-1"), s("eval: reasoning benchmark")},
                                              {s("plan-literature-1204-194055-1"), s("agent: literature review")},
                                              {s("chat-assistant-1204-194055-1"), s("chat: training assistant")}};
    EventBatch batch;
    for (const auto &[id, name] : runs) {
        batch.append(ev(seq(), id, s("run_started"), obj({{s("name"), name}, {s("kind"), s("evaluation")}})));
        batch.append(ev(seq(), id, s("progress"), obj({{s("completed"), 320000}, {s("total"), 1000000}})));
        batch.append(ev(seq(), id, s("metric"), obj({{s("step"), 320000}, {s("loss"), 0.1234}, {s("samples_per_second"), 1180.0}})));
        batch.append(ev(seq(), id, s("log"), obj({{s("message"), s("hello")}})));
    }
    batch.append(ev(seq(), runs.at(0).first, s("run_completed"), QJsonObject())); // "stopped early"
    ws.apply(batch);

    // The window's halves as MainWindow lays them out at 1500 px: runs left, the run view right.
    RunsModel model(&ws);
    RunsFilterModel filter;
    filter.setSourceModel(&model);
    QSplitter splitter;
    auto *table = new RunsTable(&splitter);
    table->setModel(&filter);
    auto *view = new RunView(&ws, &splitter);
    splitter.addWidget(table);
    splitter.addWidget(view);
    splitter.resize(1500, 500);
    splitter.setSizes({720, 780});
    splitter.show();
    QVERIFY(QTest::qWaitForWindowExposed(&splitter));
    QTRY_VERIFY(table->viewport()->width() > 600);

    const QFontMetrics metrics(table->font());
    const int viewport = table->viewport()->width();
    for (int column : RunsTable::keyColumns()) {
        const int left = table->columnViewportPosition(column);
        const int width = table->columnWidth(column);
        QVERIFY2(left >= 0 && left + width <= viewport,
                 qPrintable(QStringLiteral("%1 at %2..%3 of %4 px").arg(RunsModel::columnTitle(column)).arg(left).arg(left + width).arg(viewport)));
        for (int row = 0; row < filter.rowCount(); ++row) {
            const QModelIndex index = filter.index(row, column);
            int needed = metrics.horizontalAdvance(index.data().toString()) + 8;
            if (column == RunsModel::Status)
                needed += table->iconSize().isValid() ? table->iconSize().width() : 16;
            QVERIFY2(needed <= width, qPrintable(QStringLiteral("\"%1\" needs %2 px, %3 has %4")
                                                      .arg(index.data().toString()).arg(needed).arg(RunsModel::columnTitle(column)).arg(width)));
        }
        const int header = table->horizontalHeader()->fontMetrics().horizontalAdvance(RunsModel::columnTitle(column));
        QVERIFY(header + 8 <= width);
    }
    // Status, then the name, then progress: what people read first is on the left.
    QCOMPARE(table->horizontalHeader()->logicalIndex(0), int(RunsModel::Status));
    QCOMPARE(table->horizontalHeader()->logicalIndex(1), int(RunsModel::Name));

    // The event log spans the window: it names runs, wide enough for the names.
    EventLogModel log;
    log.setWorkspace(&ws);
    log.append(batch);
    EventLogTable logView;
    logView.setModel(&log);
    logView.resize(1500, 230);
    logView.show();
    QVERIFY(QTest::qWaitForWindowExposed(&logView));
    logView.fitColumns();
    QStringList shown = column(log, EventLogModel::Run);
    shown.removeDuplicates();
    QStringList names;
    for (const auto &run : runs)
        names.append(run.second);
    QCOMPARE(shown, names);
    const QFontMetrics logMetrics(logView.font());
    for (const QString &name : std::as_const(names))
        QVERIFY2(logMetrics.horizontalAdvance(name) + 8 <= logView.columnWidth(EventLogModel::Run), qPrintable(name));
    QVERIFY(logMetrics.horizontalAdvance(s("00:00:00.000")) + 8 <= logView.columnWidth(EventLogModel::Time));
    QCOMPARE(log.index(0, EventLogModel::Run).data(Qt::ToolTipRole).toString(), runs.at(0).first);
    QVERIFY(logView.columnWidth(EventLogModel::Summary) > 700);
}

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
