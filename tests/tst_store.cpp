// Durable history (protocol.md, "Runs, events, sequence numbers": seq never reused, also after a
// restart): the SQLite store on its own (append, the three reads, counters, reopen, deleting runs,
// the lock that gives a data dir one owner, foreign files left alone), then a real Server that is
// stopped and started again on the same data dir and must answer exactly as before.

#include "testsupport.h"

#include "codec.h"
#include "server.h"
#include "memorystore.h"
#include "sqlitestore.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QRandomGenerator>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSysInfo>
#include <QTemporaryDir>
#include <QTest>

#include <limits>
#include <memory>

#include <signal.h>
#include <sys/types.h>

using namespace Runwatch;
using Test::HttpResult;
using Test::httpCall;

namespace {

constexpr int Timeout = 10000;
constexpr qint64 NoBudget = std::numeric_limits<qint64>::max();
constexpr qint64 BaseTs = 1767225600000; // 2026-01-01T00:00:00Z

QString dbPath(const QTemporaryDir &dir)
{
    return dir.filePath(QStringLiteral("runwatch.db"));
}

// One event as the hub would hand it to the store: parsed, numbered, serialized.
Event makeEvent(qint64 seq, const QString &run, const QString &type, const QJsonObject &data,
                const QString &step = QString())
{
    QJsonObject object{{QStringLiteral("run"), run}, {QStringLiteral("type"), type}, {QStringLiteral("data"), data}};
    if (!step.isEmpty())
        object.insert(QStringLiteral("step"), step);
    Event event;
    if (Codec::parseEvent(object, BaseTs + seq * 1000, &event))
        return Event(); // an empty envelope: the test's checks on the fixture catch it
    event.seq = seq;
    Codec::serializeEnvelope(&event);
    return event;
}

// Ten events over three runs; lifecycle ones: 1, 3, 6, 8, 9.
EventBatch fixture()
{
    const QString a = QStringLiteral("a"), b = QStringLiteral("b"), c = QStringLiteral("c");
    return {
        makeEvent(1, a, QStringLiteral("run_started"), {{QStringLiteral("name"), QStringLiteral("A")}, {QStringLiteral("kind"), QStringLiteral("training")}}),
        makeEvent(2, a, QStringLiteral("metric"), {{QStringLiteral("step"), 1}, {QStringLiteral("loss"), 0.25}}),
        makeEvent(3, b, QStringLiteral("run_started"), {{QStringLiteral("name"), QStringLiteral("B")}}),
        makeEvent(4, a, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("tokenize")}}, QStringLiteral("s1")),
        makeEvent(5, b, QStringLiteral("metric"), {{QStringLiteral("loss"), QStringLiteral("NaN")}}),
        makeEvent(6, a, QStringLiteral("progress"), {{QStringLiteral("completed"), 5}, {QStringLiteral("total"), 10}}),
        makeEvent(7, b, QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("info")}, {QStringLiteral("message"), QStringLiteral("héllo ✓")}}),
        makeEvent(8, a, QStringLiteral("run_completed"), {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("loss"), 0.1}}}}),
        makeEvent(9, b, QStringLiteral("run_failed"), {{QStringLiteral("message"), QStringLiteral("OOM")}}),
        makeEvent(10, c, QStringLiteral("quality_check"), {{QStringLiteral("score"), 0.75}}),
    };
}

QByteArray envelopeOf(const EventBatch &events, qint64 seq)
{
    for (const Event &e : events) {
        if (e.seq == seq)
            return e.envelope;
    }
    return QByteArray();
}

qint64 bytesOf(const EventBatch &events)
{
    qint64 bytes = 0;
    for (const Event &e : events)
        bytes += e.envelope.size();
    return bytes;
}

QVector<qint64> seqsOf(const QVector<StoredEnvelope> &stored)
{
    QVector<qint64> out;
    for (const StoredEnvelope &s : stored)
        out.append(s.seq);
    return out;
}

QString seqText(const QVector<qint64> &seqs)
{
    QStringList parts;
    for (qint64 s : seqs)
        parts.append(QString::number(s));
    return QLatin1Char('[') + parts.join(QLatin1Char(',')) + QLatin1Char(']');
}

// Appends the fixture in three batches.
bool appendFixture(SqliteStore &store, const EventBatch &events, QString *error)
{
    return store.append(events.mid(0, 3), error) && store.append(events.mid(3, 1), error)
        && store.append(events.mid(4), error);
}

QByteArray checksum(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return QByteArray();
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex();
}

QStringList dirEntries(const QString &path)
{
    QStringList names = QDir(path).entryList(QDir::Files | QDir::Hidden | QDir::NoDotAndDotDot, QDir::Name);
    names.removeAll(QStringLiteral("runwatch.lock"));
    return names;
}

// A pid that belonged to a process which has ended.
qint64 deadPid()
{
    QProcess p;
    p.start(QStringLiteral("true"), {});
    if (!p.waitForStarted(Timeout))
        return 0;
    const qint64 pid = p.processId();
    p.waitForFinished(Timeout);
    return pid;
}

bool writeFile(const QString &path, const QByteArray &bytes)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    return f.write(bytes) == bytes.size();
}

// Creates an SQLite database with `statements`, through Qt's own driver.
bool makeSqlite(const QString &path, const QStringList &statements, QString *error)
{
    const QString name = QStringLiteral("foreign-%1").arg(QRandomGenerator::global()->generate());
    bool ok = true;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(path);
        ok = db.open();
        if (!ok)
            *error = db.lastError().text();
        QSqlQuery q(db);
        for (const QString &sql : statements) {
            if (ok && !q.exec(sql)) {
                ok = false;
                *error = sql + QStringLiteral(": ") + q.lastError().text();
            }
        }
        q.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return ok;
}

// ---------------------------------------------------------------------------------------------
// HTTP

QUrl httpUrl(const Server &server, const QString &pathAndQuery)
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(server.port()).arg(pathAndQuery));
}

QUrl wsUrl(const Server &server, const QString &pathAndQuery)
{
    return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(server.port()).arg(pathAndQuery));
}

ServerConfig configFor(const QString &dir)
{
    ServerConfig config;
    config.bind = QHostAddress(QHostAddress::LocalHost);
    config.port = 0;
    config.dataDir = dir;
    return config;
}

// The ack with this id (waiting for it); empty when none came, or an error answered the id.
QJsonObject waitAck(Test::WsProbe &probe, const QString &id, QString *failure)
{
    QJsonObject found;
    (void)QTest::qWaitFor(
        [&] {
            for (const QJsonObject &m : probe.messages()) {
                if (m.value(QLatin1String("id")).toString() != id)
                    continue;
                found = m;
                return true;
            }
            return false;
        },
        Timeout);
    if (found.value(QLatin1String("type")).toString() != QLatin1String("ack")) {
        *failure = QStringLiteral("publish %1 answered %2").arg(id, QString::fromUtf8(QJsonDocument(found).toJson(QJsonDocument::Compact)));
        return QJsonObject();
    }
    return found;
}

QVector<qint64> ackSeqs(const QJsonObject &ack)
{
    QVector<qint64> out;
    for (const QJsonValue &v : ack.value(QLatin1String("seq")).toArray())
        out.append(qint64(v.toDouble()));
    return out;
}

QJsonObject ev(const QString &run, const char *type, const QJsonObject &data, const QString &step = QString())
{
    return Test::event(run, QString::fromLatin1(type), data, step);
}

// Everything the REST API says about one run, to compare before and after a restart.
struct RunView {
    QJsonObject summary;
    QJsonArray metricNames;
    QHash<QString, QJsonObject> series;
    QByteArray lossCsv;
    QJsonArray events;
    QJsonObject listEntry;
};

} // namespace

class TestStore : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // The store itself.
    void freshStoreIsEmpty();
    void readQueries_data();
    void readQueries();
    void readBefore_data();
    void readBefore();
    void failedAppendStoresNothing();
    void reopenKeepsEverything();
    void walIsCheckpointedWhileOpen();
    void removeRunKeepsSeqFloor_data();
    void removeRunKeepsSeqFloor();
    void removeRunTwiceRaisesFloor();
    void secondOpenIsRefused();
    void lockFile_data();
    void lockFile();
    void foreignFileIsRefused_data();
    void foreignFileIsRefused();
    void serverRefusesForeignFile_data();
    void serverRefusesForeignFile();
    void serverRefusesDirInUse();
    // A real server, stopped and started again.
    void restartRestoresRun();

private:
    bool captureRun(const Server &server, const QString &run, RunView *view);
    QNetworkAccessManager m_nam;
};

void TestStore::freshStoreIsEmpty()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(QFileInfo(store->path()).canonicalFilePath(), QFileInfo(dbPath(dir)).canonicalFilePath());
    QVERIFY(QFileInfo::exists(dbPath(dir)));
    QCOMPARE(store->lastSeq(), 0);
    QCOMPARE(store->storedEvents(), 0);
    QCOMPARE(store->storedBytes(), 0);
    QVERIFY(store->readAll(0, 100, NoBudget).isEmpty());
    QVERIFY(store->readLifecycle(0, 100, NoBudget).isEmpty());
    QVERIFY(store->readRun(QStringLiteral("a"), 0, 100, NoBudget).isEmpty());
    // An empty batch is no error and changes nothing.
    QVERIFY(store->append(EventBatch(), &error));
    QCOMPARE(store->lastSeq(), 0);
    QCOMPARE(store->storedEvents(), 0);
}

void TestStore::readQueries_data()
{
    // target: run, all or lifecycle. budget: "none", "fit:K" (exactly the bytes of the first K
    // envelopes of the unbounded answer), "short:K" (one byte less), "tiny" (1 byte: still one).
    QTest::addColumn<QString>("target");
    QTest::addColumn<QString>("run");
    QTest::addColumn<qint64>("since");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QString>("budget");
    QTest::addColumn<QVector<qint64>>("expected");
    const QString run = QStringLiteral("run"), all = QStringLiteral("all"), life = QStringLiteral("lifecycle");
    const QString none = QStringLiteral("none");
    const QString a = QStringLiteral("a"), b = QStringLiteral("b"), c = QStringLiteral("c");
    using V = QVector<qint64>;
    QTest::newRow("run a") << run << a << qint64(0) << 100 << none << V{1, 2, 4, 6, 8};
    QTest::newRow("run a since 2") << run << a << qint64(2) << 100 << none << V{4, 6, 8};
    QTest::newRow("run a since 3 (not its own seq)") << run << a << qint64(3) << 100 << none << V{4, 6, 8};
    QTest::newRow("run a since its last") << run << a << qint64(8) << 100 << none << V{};
    QTest::newRow("run a limit 2") << run << a << qint64(0) << 2 << none << V{1, 2};
    QTest::newRow("run a since 2 limit 2") << run << a << qint64(2) << 2 << none << V{4, 6};
    QTest::newRow("run a limit 1") << run << a << qint64(0) << 1 << none << V{1};
    QTest::newRow("run b") << run << b << qint64(0) << 100 << none << V{3, 5, 7, 9};
    QTest::newRow("run c") << run << c << qint64(0) << 100 << none << V{10};
    QTest::newRow("unknown run") << run << QStringLiteral("zzz") << qint64(0) << 100 << none << V{};
    QTest::newRow("run ids are exact (A)") << run << QStringLiteral("A") << qint64(0) << 100 << none << V{};
    QTest::newRow("all") << all << QString() << qint64(0) << 100 << none << V{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    QTest::newRow("all since 5 limit 3") << all << QString() << qint64(5) << 3 << none << V{6, 7, 8};
    QTest::newRow("all since last") << all << QString() << qint64(10) << 100 << none << V{};
    QTest::newRow("all since beyond last") << all << QString() << qint64(1000) << 100 << none << V{};
    QTest::newRow("lifecycle") << life << QString() << qint64(0) << 100 << none << V{1, 3, 6, 8, 9};
    QTest::newRow("lifecycle since 3 limit 2") << life << QString() << qint64(3) << 2 << none << V{6, 8};
    QTest::newRow("lifecycle since 9") << life << QString() << qint64(9) << 100 << none << V{};
    QTest::newRow("run a bytes of 3") << run << a << qint64(0) << 100 << QStringLiteral("fit:3") << V{1, 2, 4};
    QTest::newRow("run a bytes of 3 minus 1") << run << a << qint64(0) << 100 << QStringLiteral("short:3") << V{1, 2};
    QTest::newRow("run a 1 byte still gives one") << run << a << qint64(0) << 100 << QStringLiteral("tiny") << V{1};
    QTest::newRow("all bytes of 10") << all << QString() << qint64(0) << 100 << QStringLiteral("fit:10") << V{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    QTest::newRow("all since 4, 1 byte") << all << QString() << qint64(4) << 100 << QStringLiteral("tiny") << V{5};
    QTest::newRow("lifecycle bytes of 2 minus 1") << life << QString() << qint64(0) << 100 << QStringLiteral("short:2") << V{1};
    QTest::newRow("lifecycle limit beats budget") << life << QString() << qint64(0) << 2 << QStringLiteral("fit:4") << V{1, 3};
}

void TestStore::readQueries()
{
    QFETCH(QString, target);
    QFETCH(QString, run);
    QFETCH(qint64, since);
    QFETCH(int, limit);
    QFETCH(QString, budget);
    QFETCH(QVector<qint64>, expected);

    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    const EventBatch events = fixture();
    for (const Event &e : events)
        QVERIFY2(!e.envelope.isEmpty() && e.seq > 0, "fixture event did not parse");
    QVERIFY2(appendFixture(*store, events, &error), qPrintable(error));
    QCOMPARE(store->lastSeq(), 10);
    QCOMPARE(store->storedEvents(), 10);
    QCOMPARE(store->storedBytes(), bytesOf(events));

    auto query = [&](qint64 s, int l, qint64 maxBytes) {
        if (target == QLatin1String("run"))
            return store->readRun(run, s, l, maxBytes);
        if (target == QLatin1String("all"))
            return store->readAll(s, l, maxBytes);
        return store->readLifecycle(s, l, maxBytes);
    };
    qint64 maxBytes = NoBudget;
    if (budget == QLatin1String("tiny")) {
        maxBytes = 1;
    } else if (budget != QLatin1String("none")) {
        const int k = budget.section(QLatin1Char(':'), 1).toInt();
        const QVector<StoredEnvelope> unbounded = query(since, 1000, NoBudget);
        QVERIFY(unbounded.size() >= k);
        maxBytes = 0;
        for (int i = 0; i < k; ++i)
            maxBytes += unbounded.at(i).json.size();
        if (budget.startsWith(QLatin1String("short")))
            maxBytes -= 1;
    }
    const QVector<StoredEnvelope> got = query(since, limit, maxBytes);
    QVERIFY2(seqsOf(got) == expected, qPrintable(QStringLiteral("got %1, expected %2").arg(seqText(seqsOf(got)), seqText(expected))));
    // Exactly the bytes that were appended.
    for (const StoredEnvelope &s : got)
        QCOMPARE(s.json, envelopeOf(events, s.seq));
}

void TestStore::readBefore_data()
{
    QTest::addColumn<QString>("run");
    QTest::addColumn<qint64>("before");
    QTest::addColumn<int>("limit");
    QTest::addColumn<QVector<qint64>>("expected");
    // Fixture: run a = 1 2 4 6 8, b = 3 5 7 9, c = 10.
    QTest::newRow("all, from the end") << QString() << qint64(11) << 3 << QVector<qint64>{8, 9, 10};
    QTest::newRow("all, in the middle") << QString() << qint64(5) << 2 << QVector<qint64>{3, 4};
    QTest::newRow("all, more than there is") << QString() << qint64(4) << 100 << QVector<qint64>{1, 2, 3};
    QTest::newRow("all, before the first") << QString() << qint64(1) << 10 << QVector<qint64>{};
    QTest::newRow("one run") << QStringLiteral("a") << qint64(8) << 2 << QVector<qint64>{4, 6};
    QTest::newRow("one run, all of it") << QStringLiteral("b") << qint64(100) << 100 << QVector<qint64>{3, 5, 7, 9};
    QTest::newRow("unknown run") << QStringLiteral("zz") << qint64(100) << 10 << QVector<qint64>{};
}

void TestStore::readBefore()
{
    QFETCH(QString, run);
    QFETCH(qint64, before);
    QFETCH(int, limit);
    QFETCH(QVector<qint64>, expected);
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    const EventBatch events = fixture();
    QVERIFY2(appendFixture(*store, events, &error), qPrintable(error));
    const QVector<StoredEnvelope> got = store->readBefore(run, before, limit);
    QVector<qint64> seqs;
    for (const StoredEnvelope &stored : got) {
        seqs.append(stored.seq);
        QCOMPARE(stored.json, events.at(stored.seq - 1).envelope); // the bytes that were stored
    }
    QCOMPARE(seqs, expected);
    // The in-memory store answers the same.
    MemoryStore memory;
    QVERIFY(memory.append(events, &error));
    QVector<qint64> memorySeqs;
    for (const StoredEnvelope &stored : memory.readBefore(run, before, limit))
        memorySeqs.append(stored.seq);
    QCOMPARE(memorySeqs, expected);
}

void TestStore::failedAppendStoresNothing()
{
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    const EventBatch events = fixture();
    QVERIFY2(appendFixture(*store, events, &error), qPrintable(error));
    const qint64 bytes = store->storedBytes();

    // Seq 11 is new, seq 3 is taken: the batch is one transaction, so 11 must not stay either.
    const EventBatch bad{makeEvent(11, QStringLiteral("a"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}),
                         makeEvent(3, QStringLiteral("a"), QStringLiteral("metric"), {{QStringLiteral("loss"), 2}})};
    error.clear();
    QVERIFY(!store->append(bad, &error));
    QVERIFY2(!error.isEmpty(), "a failed append gave no reason");
    QCOMPARE(store->lastSeq(), 10);
    QCOMPARE(store->storedEvents(), 10);
    QCOMPARE(store->storedBytes(), bytes);
    QCOMPARE(seqsOf(store->readAll(0, 100, NoBudget)), (QVector<qint64>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    QCOMPARE(store->readAll(0, 100, NoBudget).at(2).json, envelopeOf(events, 3));

    // The store still works afterwards, and after a reopen the rolled back event is not there.
    const EventBatch good{makeEvent(11, QStringLiteral("a"), QStringLiteral("metric"), {{QStringLiteral("loss"), 3}})};
    QVERIFY2(store->append(good, &error), qPrintable(error));
    QCOMPARE(store->lastSeq(), 11);
    store.reset();
    store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->storedEvents(), 11);
    const QVector<StoredEnvelope> tail = store->readAll(10, 100, NoBudget);
    QCOMPARE(tail.size(), 1);
    QCOMPARE(tail.first().json, good.first().envelope);
}

void TestStore::reopenKeepsEverything()
{
    QTemporaryDir dir;
    QString error;
    const EventBatch events = fixture();
    QVector<StoredEnvelope> before;
    qint64 bytes = 0;
    {
        std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Full, &error);
        QVERIFY2(store, qPrintable(error));
        QVERIFY2(appendFixture(*store, events, &error), qPrintable(error));
        before = store->readAll(0, 100, NoBudget);
        bytes = store->storedBytes();
    }
    QCOMPARE(before.size(), 10);
    QCOMPARE(bytes, bytesOf(events));

    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->lastSeq(), 10);
    QCOMPARE(store->storedEvents(), 10);
    QCOMPARE(store->storedBytes(), bytes);
    const QVector<StoredEnvelope> after = store->readAll(0, 100, NoBudget);
    QCOMPARE(seqsOf(after), seqsOf(before));
    for (int i = 0; i < after.size(); ++i)
        QCOMPARE(after.at(i).json, before.at(i).json);
    QCOMPARE(seqsOf(store->readLifecycle(0, 100, NoBudget)), (QVector<qint64>{1, 3, 6, 8, 9}));
    QCOMPARE(seqsOf(store->readRun(QStringLiteral("b"), 0, 100, NoBudget)), (QVector<qint64>{3, 5, 7, 9}));

    // It goes on where it stopped, and that survives the next reopen too.
    const EventBatch more{makeEvent(11, QStringLiteral("b"), QStringLiteral("run_status"), {{QStringLiteral("status"), QStringLiteral("running")}}),
                          makeEvent(12, QStringLiteral("d"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}})};
    QVERIFY2(store->append(more, &error), qPrintable(error));
    QCOMPARE(store->lastSeq(), 12);
    store.reset();
    store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->lastSeq(), 12);
    QCOMPARE(store->storedEvents(), 12);
    QCOMPARE(store->storedBytes(), bytes + bytesOf(more));
    QCOMPARE(seqsOf(store->readLifecycle(8, 100, NoBudget)), (QVector<qint64>{9, 11}));
    QCOMPARE(store->readRun(QStringLiteral("d"), 0, 100, NoBudget).value(0).json, more.at(1).envelope);
}

// The write-ahead log is copied into the database while the store is open (on a thread of its
// own, and by the writer itself past a bound when commits never pause), so it stays bounded
// however much is written.
void TestStore::walIsCheckpointedWhileOpen()
{
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    const QString db = dir.filePath(QStringLiteral("runwatch.db"));
    const QString wal = db + QStringLiteral("-wal");
    const QString pad(900, QLatin1Char('w'));
    qint64 seq = 0;
    qint64 written = 0;
    // About 8 MB (twice SQLite's checkpoint threshold, half the bound at which a commit does it
    // itself), then nothing: the checkpoint thread copies it into the database meanwhile (with the
    // thread gone, nothing would reach the database file before the store closes).
    for (int batch = 0; batch < 80; ++batch) {
        EventBatch events;
        for (int i = 0; i < 100; ++i)
            events.append(makeEvent(++seq, QStringLiteral("w"), QStringLiteral("log"), {{QStringLiteral("message"), pad}}));
        written += bytesOf(events);
        QVERIFY2(store->append(events, &error), qPrintable(error));
    }
    // At 1,000 pages in the log (4 MB) the thread is asked to copy them; if it finished before the
    // last commits, the log started over and the tail (under 1,000 pages) waits for the next
    // request, as it would with SQLite's own checkpoints. So at least a quarter is in the database.
    QTRY_VERIFY2_WITH_TIMEOUT(QFileInfo(db).size() > written / 4, qPrintable(QString::number(QFileInfo(db).size())), 10000);
    // Then about 40 MB more without a pause, ten times the threshold.
    for (int batch = 0; batch < 400; ++batch) {
        EventBatch events;
        for (int i = 0; i < 100; ++i)
            events.append(makeEvent(++seq, QStringLiteral("w"), QStringLiteral("log"), {{QStringLiteral("message"), pad}}));
        written += bytesOf(events);
        QVERIFY2(store->append(events, &error), qPrintable(error));
    }
    QVERIFY(written > 36 * 1024 * 1024);
    // Most of it reached the database file itself before any close, and the log did not grow with it.
    QTRY_VERIFY2_WITH_TIMEOUT(QFileInfo(db).size() > written / 2,
                              qPrintable(QStringLiteral("database %1 bytes, log %2 bytes").arg(QFileInfo(db).size()).arg(QFileInfo(wal).size())),
                              10000);
    QVERIFY2(QFileInfo(wal).size() < 24 * 1024 * 1024, qPrintable(QString::number(QFileInfo(wal).size())));
    QCOMPARE(store->storedEvents(), seq);
    QCOMPARE(store->readAll(seq - 1, 10, NoBudget).size(), 1);
    store.reset();
    store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->storedEvents(), seq);
    QCOMPARE(store->lastSeq(), seq);
}

void TestStore::removeRunKeepsSeqFloor_data()
{
    QTest::addColumn<QStringList>("remove");
    QTest::addColumn<QVector<qint64>>("left");
    QTest::addColumn<QVector<qint64>>("lifecycleLeft");
    using V = QVector<qint64>;
    QTest::newRow("the run with the highest seq") << QStringList{QStringLiteral("c")} << V{1, 2, 3, 4, 5, 6, 7, 8, 9} << V{1, 3, 6, 8, 9};
    QTest::newRow("a run below the highest") << QStringList{QStringLiteral("a")} << V{3, 5, 7, 9, 10} << V{3, 9};
    QTest::newRow("the two newest runs") << QStringList{QStringLiteral("b"), QStringLiteral("c")} << V{1, 2, 4, 6, 8} << V{1, 6, 8};
    QTest::newRow("every run") << QStringList{QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c")} << V{} << V{};
}

void TestStore::removeRunKeepsSeqFloor()
{
    QFETCH(QStringList, remove);
    QFETCH(QVector<qint64>, left);
    QFETCH(QVector<qint64>, lifecycleLeft);
    QTemporaryDir dir;
    QString error;
    const EventBatch events = fixture();
    qint64 leftBytes = 0;
    for (qint64 seq : std::as_const(left))
        leftBytes += envelopeOf(events, seq).size();
    {
        std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        QVERIFY2(appendFixture(*store, events, &error), qPrintable(error));
        for (const QString &run : std::as_const(remove)) {
            QVERIFY2(store->removeRun(run), qPrintable(run));
            QVERIFY2(!store->removeRun(run), "a second removal of the same run reported success");
            QVERIFY(store->readRun(run, 0, 100, NoBudget).isEmpty());
        }
        QVERIFY(!store->removeRun(QStringLiteral("never-there")));
        QCOMPARE(store->lastSeq(), 10);
        QCOMPARE(store->storedEvents(), left.size());
        QCOMPARE(store->storedBytes(), leftBytes);
        QCOMPARE(seqsOf(store->readAll(0, 100, NoBudget)), left);
    }

    // After a reopen: the runs are gone, and the next seq still goes above 10.
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QVERIFY2(store->lastSeq() == 10, qPrintable(QStringLiteral("lastSeq %1 after deleting %2 and reopening; seqs up to 10 were handed out")
                                                    .arg(store->lastSeq()).arg(remove.join(QLatin1Char(',')))));
    QCOMPARE(store->storedEvents(), left.size());
    QCOMPARE(store->storedBytes(), leftBytes);
    QCOMPARE(seqsOf(store->readAll(0, 100, NoBudget)), left);
    QCOMPARE(seqsOf(store->readLifecycle(0, 100, NoBudget)), lifecycleLeft);
    for (const QString &run : std::as_const(remove))
        QVERIFY2(store->readRun(run, 0, 100, NoBudget).isEmpty(), qPrintable(run));
    for (const StoredEnvelope &s : store->readAll(0, 100, NoBudget))
        QCOMPARE(s.json, envelopeOf(events, s.seq));
}

void TestStore::removeRunTwiceRaisesFloor()
{
    QTemporaryDir dir;
    QString error;
    {
        std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        QVERIFY2(appendFixture(*store, fixture(), &error), qPrintable(error));
        QVERIFY(store->removeRun(QStringLiteral("c")));
    }
    {
        // Reopened: floor 10. The run comes back with new seqs and is deleted again.
        std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
        QVERIFY2(store, qPrintable(error));
        QCOMPARE(store->lastSeq(), 10);
        const EventBatch again{makeEvent(11, QStringLiteral("c"), QStringLiteral("metric"), {{QStringLiteral("x"), 1}}),
                               makeEvent(12, QStringLiteral("c"), QStringLiteral("metric"), {{QStringLiteral("x"), 2}})};
        QVERIFY2(store->append(again, &error), qPrintable(error));
        QCOMPARE(store->lastSeq(), 12);
        QVERIFY(store->removeRun(QStringLiteral("c")));
        QCOMPARE(store->lastSeq(), 12);
    }
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->lastSeq(), 12);
    QCOMPARE(store->storedEvents(), 9);
    QVERIFY(store->readRun(QStringLiteral("c"), 0, 100, NoBudget).isEmpty());
}

void TestStore::secondOpenIsRefused()
{
    QTemporaryDir dir;
    QString error;
    std::unique_ptr<SqliteStore> first = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(first, qPrintable(error));
    QVERIFY2(first->append(fixture().mid(0, 2), &error), qPrintable(error));

    QString second;
    std::unique_ptr<SqliteStore> other = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &second);
    QVERIFY2(!other, "a second store opened a data dir that is in use");
    QVERIFY2(second.contains(QLatin1String("in use")), qPrintable(second));
    const QString pid = QString::number(QCoreApplication::applicationPid());
    QVERIFY2(second.contains(pid), qPrintable(second + QStringLiteral(" does not name pid ") + pid));
    QVERIFY2(second.contains(dir.path()), qPrintable(second + QStringLiteral(" does not name ") + dir.path()));
    QVERIFY2(!second.contains(QLatin1Char('\n')), qPrintable(second));

    // The first one was not disturbed.
    QVERIFY2(first->append(fixture().mid(2, 1), &error), qPrintable(error));
    QCOMPARE(first->lastSeq(), 3);
    QCOMPARE(seqsOf(first->readAll(0, 100, NoBudget)), (QVector<qint64>{1, 2, 3}));

    // Once it is gone, the dir can be opened again.
    first.reset();
    std::unique_ptr<SqliteStore> third = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(third, qPrintable(error));
    QCOMPARE(third->lastSeq(), 3);
}

void TestStore::lockFile_data()
{
    // A runwatch.lock written by hand in QLockFile's format: pid, app name, host name[, machine
    // id, boot id]. DEAD is the pid of a process that has ended, LIVE the pid of a running `sleep`.
    QTest::addColumn<QString>("pid");
    QTest::addColumn<QString>("app");
    QTest::addColumn<bool>("qt6Lines");
    QTest::addColumn<bool>("opens");
    QTest::newRow("dead process") << QStringLiteral("DEAD") << QStringLiteral("runwatch") << false << true;
    QTest::newRow("dead process, Qt 6 five-line file") << QStringLiteral("DEAD") << QStringLiteral("runwatch") << true << true;
    QTest::newRow("dead process, this test's name") << QStringLiteral("DEAD") << QStringLiteral("tst_store") << true << true;
    QTest::newRow("live pid now used by another program") << QStringLiteral("LIVE") << QStringLiteral("runwatch") << true << true;
    QTest::newRow("live process that wrote it") << QStringLiteral("LIVE") << QStringLiteral("sleep") << true << false;
}

void TestStore::lockFile()
{
    QFETCH(QString, pid);
    QFETCH(QString, app);
    QFETCH(bool, qt6Lines);
    QFETCH(bool, opens);
    QTemporaryDir dir;

    QProcess sleeper;
    qint64 number = 0;
    if (pid == QLatin1String("DEAD")) {
        number = deadPid();
        QVERIFY(number > 0);
        QVERIFY2(::kill(pid_t(number), 0) != 0, "the ended process' pid is in use again");
    } else {
        sleeper.start(QStringLiteral("sleep"), {QStringLiteral("30")});
        QVERIFY(sleeper.waitForStarted(Timeout));
        number = sleeper.processId();
    }
    QByteArray content = QByteArray::number(number) + '\n' + app.toUtf8() + '\n' + QSysInfo::machineHostName().toUtf8() + '\n';
    if (qt6Lines)
        content += QSysInfo::machineUniqueId() + '\n' + QSysInfo::bootUniqueId() + '\n';
    QVERIFY(writeFile(dir.filePath(QStringLiteral("runwatch.lock")), content));

    QString error;
    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    if (opens) {
        QVERIFY2(store, qPrintable(QStringLiteral("a lock of pid %1 (%2) blocked the dir: %3").arg(number).arg(app, error)));
        QVERIFY2(store->append(fixture().mid(0, 1), &error), qPrintable(error));
        // The lock is ours now.
        QFile lock(dir.filePath(QStringLiteral("runwatch.lock")));
        QVERIFY(lock.open(QIODevice::ReadOnly));
        QCOMPARE(lock.readLine().trimmed(), QByteArray::number(QCoreApplication::applicationPid()));
    } else {
        QVERIFY2(!store, "a lock held by a live process was ignored");
        QVERIFY2(error.contains(QLatin1String("in use")), qPrintable(error));
        QVERIFY2(error.contains(QString::number(number)), qPrintable(error + QStringLiteral(" does not name pid ") + QString::number(number)));
        // Not touched: still the other process' lock.
        QFile lock(dir.filePath(QStringLiteral("runwatch.lock")));
        QVERIFY(lock.open(QIODevice::ReadOnly));
        QCOMPARE(lock.readAll(), content);
    }
    if (sleeper.state() != QProcess::NotRunning) {
        sleeper.kill();
        sleeper.waitForFinished(Timeout);
    }
}

namespace {

// Puts the file of a row into dir/runwatch.db.
bool makeForeignFile(const QString &kind, const QString &path, QString *error)
{
    if (kind == QLatin1String("text")) {
        return writeFile(path, "These are my notes, not a database.\nLine two.\n");
    }
    if (kind == QLatin1String("random")) {
        QRandomGenerator rng(4711);
        QByteArray bytes(16384, Qt::Uninitialized);
        for (char &c : bytes)
            c = char(rng.bounded(256));
        bytes[0] = 'X'; // not by chance the SQLite magic
        return writeFile(path, bytes);
    }
    if (kind == QLatin1String("other-sqlite")) {
        return makeSqlite(path,
                          {QStringLiteral("CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)"),
                           QStringLiteral("INSERT INTO contacts (name) VALUES ('Ada'), ('Grace')")},
                          error);
    }
    if (kind == QLatin1String("other-app-id")) {
        return makeSqlite(path, {QStringLiteral("PRAGMA application_id = 1234567")}, error);
    }
    if (kind == QLatin1String("newer-runwatch")) {
        return makeSqlite(path,
                          {QStringLiteral("PRAGMA application_id = %1").arg(SqliteStore::ApplicationId),
                           QStringLiteral("PRAGMA user_version = %1").arg(SqliteStore::SchemaVersion + 1),
                           QStringLiteral("CREATE TABLE events (seq INTEGER PRIMARY KEY, future TEXT)")},
                          error);
    }
    *error = QStringLiteral("unknown kind ") + kind;
    return false;
}

void foreignRows()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("mention");
    QTest::newRow("text file") << QStringLiteral("text") << QStringLiteral("not a Runwatch database");
    QTest::newRow("random bytes") << QStringLiteral("random") << QStringLiteral("not a Runwatch database");
    QTest::newRow("another program's SQLite database") << QStringLiteral("other-sqlite") << QStringLiteral("another program");
    QTest::newRow("SQLite file with another application id") << QStringLiteral("other-app-id") << QStringLiteral("another program");
    QTest::newRow("Runwatch database of a newer schema") << QStringLiteral("newer-runwatch") << QStringLiteral("newer");
}

} // namespace

void TestStore::foreignFileIsRefused_data()
{
    foreignRows();
}

void TestStore::foreignFileIsRefused()
{
    QFETCH(QString, kind);
    QFETCH(QString, mention);
    QTemporaryDir dir;
    QString error;
    QVERIFY2(makeForeignFile(kind, dbPath(dir), &error), qPrintable(error));
    const QByteArray sum = checksum(dbPath(dir));
    const qint64 size = QFileInfo(dbPath(dir)).size();
    const QStringList files = dirEntries(dir.path());
    QVERIFY(!sum.isEmpty());

    std::unique_ptr<SqliteStore> store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(!store, qPrintable(QStringLiteral("a %1 file was taken as the store").arg(kind)));
    QVERIFY2(error.contains(mention), qPrintable(error + QStringLiteral(" does not say ") + mention));
    QVERIFY2(error.contains(QLatin1String("runwatch.db")), qPrintable(error));
    QVERIFY2(!error.contains(QLatin1Char('\n')), qPrintable(error));

    // Not modified, and nothing added next to it.
    QCOMPARE(QFileInfo(dbPath(dir)).size(), size);
    QCOMPARE(checksum(dbPath(dir)), sum);
    QCOMPARE(dirEntries(dir.path()), files);

    // The refusal did not keep the dir locked: moved away, as the message says, the dir opens.
    QVERIFY(QFile::rename(dbPath(dir), dir.filePath(QStringLiteral("moved.db"))));
    store = SqliteStore::open(dir.path(), SqliteStore::Sync::Normal, &error);
    QVERIFY2(store, qPrintable(error));
    QCOMPARE(store->lastSeq(), 0);
    QCOMPARE(checksum(dir.filePath(QStringLiteral("moved.db"))), sum);
}

void TestStore::serverRefusesForeignFile_data()
{
    foreignRows();
}

void TestStore::serverRefusesForeignFile()
{
    QFETCH(QString, kind);
    QFETCH(QString, mention);
    QTemporaryDir dir;
    QString error;
    QVERIFY2(makeForeignFile(kind, dbPath(dir), &error), qPrintable(error));
    const QByteArray sum = checksum(dbPath(dir));

    {
        Server server(configFor(dir.path()));
        error.clear();
        QVERIFY2(!server.start(&error), "the server started on a foreign runwatch.db");
        QVERIFY(!server.isRunning());
        QVERIFY2(error.contains(mention), qPrintable(error + QStringLiteral(" does not say ") + mention));
        QVERIFY2(error.contains(QLatin1String("runwatch.db")), qPrintable(error));
    }
    QCOMPARE(checksum(dbPath(dir)), sum);

    QVERIFY(QFile::rename(dbPath(dir), dir.filePath(QStringLiteral("moved.db"))));
    Server server(configFor(dir.path()));
    QVERIFY2(server.start(&error), qPrintable(error));
    QCOMPARE(httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/healthz"))).status, 200);
    server.stop();
    QCOMPARE(checksum(dir.filePath(QStringLiteral("moved.db"))), sum);
}

void TestStore::serverRefusesDirInUse()
{
    QTemporaryDir dir;
    QString error;
    Server first(configFor(dir.path()));
    QVERIFY2(first.start(&error), qPrintable(error));

    Server second(configFor(dir.path()));
    QVERIFY2(!second.start(&error), "two servers share one data dir");
    QVERIFY2(error.contains(QLatin1String("in use")), qPrintable(error));
    QVERIFY2(error.contains(QString::number(QCoreApplication::applicationPid())), qPrintable(error));
    QVERIFY(!second.isRunning());
    // The first still serves.
    QCOMPARE(httpCall(m_nam, "GET", httpUrl(first, QStringLiteral("/healthz"))).status, 200);
}

bool TestStore::captureRun(const Server &server, const QString &run, RunView *view)
{
    const HttpResult summary = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/") + run));
    const HttpResult names = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/%1/metrics").arg(run)));
    const HttpResult events = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/%1/events").arg(run)));
    const HttpResult list = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs")));
    const HttpResult csv = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/%1/metrics/loss?format=csv").arg(run)));
    if (summary.status != 200 || names.status != 200 || events.status != 200 || list.status != 200 || csv.status != 200) {
        qWarning("capture of %s: %d %d %d %d %d", qPrintable(run), summary.status, names.status, events.status, list.status, csv.status);
        return false;
    }
    view->summary = summary.object();
    view->metricNames = names.array();
    view->events = events.array();
    view->lossCsv = csv.body;
    for (const QJsonValue &entry : list.array()) {
        if (entry.toObject().value(QLatin1String("id")).toString() == run)
            view->listEntry = entry.toObject();
    }
    for (const QJsonValue &name : std::as_const(view->metricNames)) {
        const HttpResult series = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/%1/metrics/%2").arg(run, name.toString())));
        if (series.status != 200)
            return false;
        view->series.insert(name.toString(), series.object());
    }
    return true;
}

void TestStore::restartRestoresRun()
{
    QTemporaryDir dir;
    QString error;
    const QString run = QStringLiteral("train");
    QVector<qint64> acked;
    qint64 scratchSeq = 0;
    RunView before;
    QJsonArray lifecycleBefore;
    {
        Server server(configFor(dir.path()));
        QVERIFY2(server.start(&error), qPrintable(error));
        Test::WsProbe producer;
        producer.open(wsUrl(server, QStringLiteral("/ws")));
        QVERIFY(producer.waitConnected());
        auto publish = [&](const QString &id, const QJsonArray &events) {
            producer.send(Test::publishOp(events, id));
            const QJsonObject ack = waitAck(producer, id, &error);
            acked += ackSeqs(ack);
            return ackSeqs(ack).size() == events.size();
        };
        const QJsonObject config{{QStringLiteral("lr"), 3e-5},
                                 {QStringLiteral("batch_size"), 32},
                                 {QStringLiteral("optimizer"), QJsonObject{{QStringLiteral("name"), QStringLiteral("adamw")},
                                                                           {QStringLiteral("betas"), QJsonArray{0.9, 0.999}}}}};
        QVERIFY2(publish(QStringLiteral("start"),
                         {ev(run, "run_started", {{QStringLiteral("name"), QStringLiteral("bert-finetune")},
                                                  {QStringLiteral("kind"), QStringLiteral("training")},
                                                  {QStringLiteral("config"), config},
                                                  {QStringLiteral("total_steps"), 100},
                                                  {QStringLiteral("total_epochs"), 2},
                                                  {QStringLiteral("tags"), QJsonArray{QStringLiteral("nlp"), QStringLiteral("test")}}})}),
                 qPrintable(error));
        QVERIFY2(publish(QStringLiteral("m1"),
                         {ev(run, "progress", {{QStringLiteral("completed"), 10}, {QStringLiteral("total"), 100}, {QStringLiteral("epoch"), 1}, {QStringLiteral("eta_s"), 90}}),
                          ev(run, "metric", {{QStringLiteral("step"), 10}, {QStringLiteral("loss"), 2.5}, {QStringLiteral("lr"), 3e-5}}),
                          ev(run, "metric", {{QStringLiteral("step"), 20}, {QStringLiteral("loss"), 1.75}, {QStringLiteral("eval_loss"), 1.9}})}),
                 qPrintable(error));
        // Non-finite values, once as Python writes them (bare tokens), once as strings.
        producer.sendText(QStringLiteral(R"({"op":"publish","id":"nan","events":[)"
                                         R"({"run":"train","type":"metric","data":{"step":30,"loss":NaN,"grad_norm":Infinity}},)"
                                         R"({"run":"train","type":"metric","data":{"step":40,"loss":"NaN","grad_norm":"-Infinity"}}]})"));
        const QVector<qint64> nanSeqs = ackSeqs(waitAck(producer, QStringLiteral("nan"), &error));
        QVERIFY2(nanSeqs.size() == 2, qPrintable(error));
        acked += nanSeqs;
        QVERIFY2(publish(QStringLiteral("steps"),
                         {ev(run, "step_started", {{QStringLiteral("name"), QStringLiteral("tokenize")}}, QStringLiteral("s1")),
                          ev(run, "step_progress", {{QStringLiteral("progress"), 0.5}}, QStringLiteral("s1")),
                          ev(run, "step_completed", {{QStringLiteral("result"), QJsonObject{{QStringLiteral("rows"), 1000}}}}, QStringLiteral("s1")),
                          ev(run, "step_started", {{QStringLiteral("name"), QStringLiteral("train")}}, QStringLiteral("s2")),
                          ev(run, "step_failed", {{QStringLiteral("message"), QStringLiteral("CUDA out of memory")}}, QStringLiteral("s2")),
                          ev(run, "step_started", {{QStringLiteral("name"), QStringLiteral("eval")}}, QStringLiteral("s3"))}),
                 qPrintable(error));
        QVERIFY2(publish(QStringLiteral("out"),
                         {ev(run, "token", {{QStringLiteral("text"), QStringLiteral("Hello ")}}),
                          ev(run, "token", {{QStringLiteral("text"), QStringLiteral("wörld ✓")}}),
                          ev(run, "result", {{QStringLiteral("ok"), true}}),
                          ev(run, "result", {{QStringLiteral("ok"), false}}),
                          ev(run, "error", {{QStringLiteral("message"), QStringLiteral("NCCL timeout")}, {QStringLiteral("code"), QStringLiteral("E42")}}),
                          ev(run, "log", {{QStringLiteral("level"), QStringLiteral("error")}, {QStringLiteral("message"), QStringLiteral("disk almost full")}}),
                          ev(run, "log", {{QStringLiteral("level"), QStringLiteral("info")}, {QStringLiteral("message"), QStringLiteral("checkpoint saved")}}),
                          ev(run, "quality_check", {{QStringLiteral("score"), 0.9}}),
                          ev(run, "progress", {{QStringLiteral("completed"), 100}, {QStringLiteral("total"), 100}, {QStringLiteral("epoch"), 2}})}),
                 qPrintable(error));
        QVERIFY2(publish(QStringLiteral("end"),
                         {ev(run, "metric", {{QStringLiteral("step"), 100}, {QStringLiteral("loss"), 0.5}}),
                          ev(run, "run_completed", {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("final_loss"), 0.5}}}})}),
                 qPrintable(error));
        // A second run that holds the highest seq and is deleted before the stop.
        QVERIFY2(publish(QStringLiteral("scratch"), {ev(QStringLiteral("scratch"), "log", {{QStringLiteral("message"), QStringLiteral("tmp")}})}),
                 qPrintable(error));
        scratchSeq = acked.takeLast();
        QCOMPARE(httpCall(m_nam, "DELETE", httpUrl(server, QStringLiteral("/api/runs/scratch"))).status, 200);
        QCOMPARE(acked.size(), 23);

        QVERIFY(captureRun(server, run, &before));
        Test::WsProbe lifecycle;
        lifecycle.open(wsUrl(server, QStringLiteral("/ws/runs?since=0")));
        QVERIFY(lifecycle.waitConnected());
        QVERIFY(lifecycle.waitEvents(4));
        QVERIFY(Test::sync(lifecycle)); // whatever else the server sent it has arrived
        for (const QJsonObject &e : lifecycle.events())
            lifecycleBefore.append(e);
        server.stop();
    }

    // What was seen before the restart is what was published (so the comparison means something).
    const QJsonObject &s = before.summary;
    QCOMPARE(s.value(QLatin1String("status")).toString(), QStringLiteral("completed"));
    QCOMPARE(s.value(QLatin1String("name")).toString(), QStringLiteral("bert-finetune"));
    QCOMPARE(s.value(QLatin1String("progress")).toDouble(), 1.0);
    QCOMPARE(s.value(QLatin1String("event_count")).toDouble(), 23.0);
    QCOMPARE(s.value(QLatin1String("metrics")).toObject().value(QLatin1String("grad_norm")).toString(), QStringLiteral("-Infinity"));
    QCOMPARE(s.value(QLatin1String("metrics")).toObject().value(QLatin1String("loss")).toDouble(), 0.5);
    QCOMPARE(s.value(QLatin1String("steps")).toArray().size(), 3);
    QCOMPARE(s.value(QLatin1String("output_chars")).toDouble(), 13.0);
    QVERIFY(s.value(QLatin1String("started_at")).isString());
    QVERIFY(s.value(QLatin1String("ended_at")).isString());
    QCOMPARE(s.value(QLatin1String("config")).toObject().value(QLatin1String("optimizer")).toObject().value(QLatin1String("name")).toString(),
             QStringLiteral("adamw"));
    QCOMPARE(before.events.size(), 23);
    QCOMPARE(before.series.value(QStringLiteral("loss")).value(QLatin1String("points")).toArray().size(), 5);
    QCOMPARE(before.series.value(QStringLiteral("loss")).value(QLatin1String("points")).toArray().at(2).toArray().at(1).toString(),
             QStringLiteral("NaN"));
    QCOMPARE(lifecycleBefore.size(), 4); // run_started, 2 progress, run_completed; nothing of scratch

    // A new server on the same data dir.
    Server server(configFor(dir.path()));
    QVERIFY2(server.start(&error), qPrintable(error));
    RunView after;
    QVERIFY(captureRun(server, run, &after));
    QCOMPARE(after.summary, before.summary);
    QCOMPARE(after.listEntry, before.listEntry);
    QCOMPARE(after.metricNames, before.metricNames);
    QCOMPARE(after.series.keys().size(), before.series.keys().size());
    for (auto it = before.series.cbegin(); it != before.series.cend(); ++it)
        QVERIFY2(after.series.value(it.key()) == it.value(), qPrintable(QStringLiteral("series %1 changed").arg(it.key())));
    QCOMPARE(after.lossCsv, before.lossCsv);
    QCOMPARE(after.events, before.events);
    QVector<qint64> restSeqs;
    for (const QJsonValue &e : std::as_const(after.events))
        restSeqs.append(qint64(e.toObject().value(QLatin1String("seq")).toDouble()));
    QCOMPARE(restSeqs, acked);
    QCOMPARE(httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/scratch"))).status, 404);
    const HttpResult health = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/healthz")));
    QVERIFY2(health.object().value(QLatin1String("last_seq")).toDouble() >= double(scratchSeq), health.body.constData());

    // A replay from since=0 gives every event, the same envelopes.
    Test::WsProbe replay;
    replay.open(wsUrl(server, QStringLiteral("/ws/runs/train?since=0")));
    QVERIFY(replay.waitConnected());
    QVERIFY2(replay.waitEvents(23, Timeout), qPrintable(QStringLiteral("%1 events replayed").arg(replay.events().size())));
    QCOMPARE(replay.seqs(), acked);
    for (int i = 0; i < replay.events().size(); ++i)
        QCOMPARE(replay.events().at(i), before.events.at(i).toObject());
    QVERIFY(replay.waitMessage(QStringLiteral("welcome")).value(QLatin1String("last_seq")).toDouble() >= double(scratchSeq));
    Test::WsProbe lifecycle;
    lifecycle.open(wsUrl(server, QStringLiteral("/ws/runs?since=0")));
    QVERIFY(lifecycle.waitConnected());
    QVERIFY(lifecycle.waitEvents(lifecycleBefore.size()));

    // New events get seqs above every one handed out before, the deleted run's included.
    Test::WsProbe producer;
    producer.open(wsUrl(server, QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    producer.send(Test::publishOp({ev(run, "log", {{QStringLiteral("message"), QStringLiteral("after restart")}}),
                                   ev(run, "metric", {{QStringLiteral("step"), 101}, {QStringLiteral("loss"), 0.4}})},
                                  QStringLiteral("again")));
    const QVector<qint64> next = ackSeqs(waitAck(producer, QStringLiteral("again"), &error));
    QVERIFY2(next.size() == 2, qPrintable(error));
    QVERIFY2(next.first() > scratchSeq, qPrintable(QStringLiteral("seq %1 after the restart; %2 was handed out before").arg(next.first()).arg(scratchSeq)));
    QVERIFY(next.at(1) > next.at(0));
    // Live, to the replaying subscriber, right after its history.
    QVERIFY(replay.waitEvents(25));
    QCOMPARE(replay.seqs().mid(23), next);
    QCOMPARE(lifecycle.events().size(), lifecycleBefore.size()); // neither log nor metric is lifecycle
    for (int i = 0; i < lifecycleBefore.size(); ++i)
        QCOMPARE(lifecycle.events().at(i), lifecycleBefore.at(i).toObject());
    const HttpResult summary = httpCall(m_nam, "GET", httpUrl(server, QStringLiteral("/api/runs/train")));
    QCOMPARE(summary.object().value(QLatin1String("event_count")).toDouble(), 25.0);
    QCOMPARE(summary.object().value(QLatin1String("metrics")).toObject().value(QLatin1String("loss")).toDouble(), 0.4);
    server.stop();
}

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
