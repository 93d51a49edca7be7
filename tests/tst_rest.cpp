// The REST half of the wire contract (protocol.md, "HTTP endpoints"), driven through real clients:
// QNetworkAccessManager for ordinary requests, a raw QTcpSocket where the framing itself is the
// subject (keep-alive, HEAD, chunked bodies, the Host header guard), and QWebSocket to prove that
// both publish paths feed the same state.

#include "testsupport.h"

#include "metrichistory.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QSet>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>

using namespace Runwatch;
using Test::HttpResult;
using Test::httpCall;

namespace {

constexpr int Timeout = 10000;

QJsonValue field(const QJsonObject &object, const char *key)
{
    return object.value(QLatin1String(key));
}

QString text(const QJsonObject &object, const char *key)
{
    return object.value(QLatin1String(key)).toString();
}

double number(const QJsonObject &object, const char *key)
{
    return object.value(QLatin1String(key)).toDouble(std::numeric_limits<double>::quiet_NaN());
}

bool isTimestamp(const QJsonValue &value)
{
    static const QRegularExpression re(QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"));
    return value.isString() && re.match(value.toString()).hasMatch();
}

bool nearlyEqual(double a, double b)
{
    return std::fabs(a - b) <= 1e-9 * qMax(1.0, std::fabs(b));
}

// ---------------------------------------------------------------------------------------------
// HTTP through QNetworkAccessManager (Test::httpCall)

HttpResult get(QNetworkAccessManager &nam, const QUrl &url)
{
    return httpCall(nam, QByteArrayLiteral("GET"), url);
}

HttpResult post(QNetworkAccessManager &nam, const QUrl &url, const QByteArray &body)
{
    return httpCall(nam, QByteArrayLiteral("POST"), url, QByteArray(), body);
}

QByteArray json(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QByteArray json(const QJsonArray &array)
{
    return QJsonDocument(array).toJson(QJsonDocument::Compact);
}

QVector<qint64> seqsOf(const QJsonArray &array)
{
    QVector<qint64> out;
    for (const QJsonValue &v : array)
        out.append(qint64(v.toDouble()));
    return out;
}

// POSTs events and returns their seqs; empty on any failure (with a warning saying why).
QVector<qint64> publishHttp(QNetworkAccessManager &nam, Test::TestServer &srv, const QByteArray &body)
{
    const HttpResult r = post(nam, srv.http(QStringLiteral("/api/events")), body);
    if (r.status != 200) {
        qWarning("POST /api/events answered %d: %s", r.status, r.body.constData());
        return {};
    }
    return seqsOf(r.object().value(QLatin1String("seq")).toArray());
}

// Publishes through a WebSocket publish op with an id and returns the acked seqs.
QVector<qint64> publishWs(Test::WsProbe &producer, const QJsonArray &events, const QString &id)
{
    const int before = int(producer.messages().size());
    producer.send(Test::publishOp(events, id));
    QJsonObject ack;
    (void)QTest::qWaitFor(
        [&] {
            for (int i = before; i < producer.messages().size(); ++i) {
                const QJsonObject &m = producer.messages().at(i);
                if (text(m, "type") == QLatin1String("error")) {
                    qWarning("publish op answered an error: %s", json(m).constData());
                    return true;
                }
                if (text(m, "type") == QLatin1String("ack") && text(m, "id") == id) {
                    ack = m;
                    return true;
                }
            }
            return false;
        },
        Timeout);
    return seqsOf(ack.value(QLatin1String("seq")).toArray());
}

bool strictlyIncreasing(const QVector<qint64> &seqs)
{
    for (qsizetype i = 1; i < seqs.size(); ++i) {
        if (seqs.at(i) <= seqs.at(i - 1))
            return false;
    }
    return true;
}

QJsonObject findById(const QJsonArray &array, const QString &id)
{
    for (const QJsonValue &v : array) {
        if (text(v.toObject(), "id") == id)
            return v.toObject();
    }
    return {};
}

// ---------------------------------------------------------------------------------------------
// HTTP on a raw socket

struct RawResponse {
    int status = 0;
    QHash<QByteArray, QByteArray> headers; // lower-case names
    QByteArray body;
    QByteArray header(const char *name) const { return headers.value(QByteArray(name).toLower()); }
};

class RawHttp
{
public:
    bool connectTo(quint16 port)
    {
        m_socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
        return QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState; }, Timeout);
    }
    void write(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    // Reads one response; headOnly for the answer to a HEAD request (headers but no body).
    bool read(RawResponse *out, bool headOnly = false)
    {
        *out = RawResponse();
        int headEnd = -1;
        if (!QTest::qWaitFor([&] { pull(); headEnd = int(m_buffer.indexOf("\r\n\r\n")); return headEnd >= 0; }, Timeout)) {
            qWarning("no complete response head; have: %s", m_buffer.left(200).constData());
            return false;
        }
        const QList<QByteArray> lines = m_buffer.left(headEnd).split('\n');
        const QList<QByteArray> statusLine = lines.first().trimmed().split(' ');
        if (statusLine.size() < 2 || !statusLine.first().startsWith("HTTP/1.")) {
            qWarning("bad status line: %s", lines.first().constData());
            return false;
        }
        out->status = statusLine.at(1).toInt();
        for (int i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines.at(i).trimmed();
            const int colon = int(line.indexOf(':'));
            if (colon > 0)
                out->headers.insert(line.left(colon).trimmed().toLower(), line.mid(colon + 1).trimmed());
        }
        m_buffer.remove(0, headEnd + 4);
        if (headOnly || out->status == 204 || out->status == 304)
            return true;
        if (out->headers.contains("transfer-encoding")) {
            qWarning("raw client does not read chunked responses");
            return false;
        }
        const qint64 length = out->headers.value("content-length", "0").toLongLong();
        if (!QTest::qWaitFor([&] { pull(); return m_buffer.size() >= length; }, Timeout)) {
            qWarning("body incomplete: %lld of %lld bytes", qint64(m_buffer.size()), length);
            return false;
        }
        out->body = m_buffer.left(length);
        m_buffer.remove(0, length);
        return true;
    }
    bool waitDisconnected()
    {
        return QTest::qWaitFor([this] { pull(); return m_socket.state() == QAbstractSocket::UnconnectedState; }, Timeout);
    }
    bool isConnected() const { return m_socket.state() == QAbstractSocket::ConnectedState; }
    QByteArray pending()
    {
        pull();
        return m_buffer;
    }

private:
    void pull() { m_buffer.append(m_socket.readAll()); }
    QTcpSocket m_socket;
    QByteArray m_buffer;
};

QByteArray requestHead(const QByteArray &method, const QByteArray &target, quint16 port,
                       const QByteArray &extra = QByteArray())
{
    return method + ' ' + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(port) + "\r\n" + extra + "\r\n";
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format

struct Prometheus {
    bool ok = true;
    QString problem;
    QHash<QString, double> samples; // "name{labels}" -> value
    QHash<QString, QString> types;  // family -> type

    // Sum of every sample of the first metric whose name contains `part`.
    bool find(const QString &part, double *sum, QString *name = nullptr) const
    {
        QString found;
        for (auto it = samples.constBegin(); it != samples.constEnd(); ++it) {
            const QString metric = it.key().section(QLatin1Char('{'), 0, 0);
            if (metric.contains(part) && (found.isEmpty() || metric < found))
                found = metric;
        }
        if (found.isEmpty())
            return false;
        double total = 0;
        for (auto it = samples.constBegin(); it != samples.constEnd(); ++it) {
            if (it.key().section(QLatin1Char('{'), 0, 0) == found)
                total += it.value();
        }
        *sum = total;
        if (name)
            *name = found;
        return true;
    }
};

Prometheus parsePrometheus(const QByteArray &body)
{
    static const QRegularExpression sample(
        QStringLiteral("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*\\})?[ \\t]+(\\S+)([ \\t]+-?\\d+)?$"));
    static const QRegularExpression type(
        QStringLiteral("^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$"));
    Prometheus out;
    const QStringList lines = QString::fromUtf8(body).split(QLatin1Char('\n'));
    for (const QString &line : lines) {
        if (line.isEmpty())
            continue;
        if (line.startsWith(QLatin1String("# TYPE"))) {
            const QRegularExpressionMatch m = type.match(line);
            if (!m.hasMatch()) {
                out.ok = false;
                out.problem = QStringLiteral("bad TYPE line: ") + line;
                return out;
            }
            out.types.insert(m.captured(1), m.captured(2));
            continue;
        }
        if (line.startsWith(QLatin1Char('#')))
            continue;
        const QRegularExpressionMatch m = sample.match(line);
        bool isNumber = false;
        const double value = m.hasMatch() ? m.captured(3).toDouble(&isNumber) : 0;
        if (!m.hasMatch() || (!isNumber && m.captured(3) != QLatin1String("NaN")
                              && !m.captured(3).endsWith(QLatin1String("Inf")))) {
            out.ok = false;
            out.problem = QStringLiteral("bad sample line: ") + line;
            return out;
        }
        out.samples.insert(m.captured(1) + m.captured(2), value);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// A small, known data set

struct Sample {
    QVector<qint64> httpSeqs;
    QVector<qint64> wsSeqs;
    qint64 lastSeq = 0;
};

// Run "train1" gets events through POST (array) and through a WebSocket publish op; run
// "eval1" through single-object POSTs.
bool publishSample(QNetworkAccessManager &nam, Test::TestServer &srv, Test::WsProbe &producer, Sample *out)
{
    const QString run = QStringLiteral("train1");
    const QJsonArray first{
        Test::event(run, QStringLiteral("run_started"),
                    {{QStringLiteral("name"), QStringLiteral("Train One")},
                     {QStringLiteral("kind"), QStringLiteral("training")},
                     {QStringLiteral("config"), QJsonObject{{QStringLiteral("lr"), 0.1}}},
                     {QStringLiteral("total_steps"), 100},
                     {QStringLiteral("total_epochs"), 4},
                     {QStringLiteral("tags"), QJsonArray{QStringLiteral("nightly")}}}),
        Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), 10}, {QStringLiteral("loss"), 2.5}, {QStringLiteral("accuracy"), 0.5}}),
        Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), 20}, {QStringLiteral("loss"), 1.5}}),
        Test::event(run, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("Preparation")}}, QStringLiteral("prep")),
        Test::event(run, QStringLiteral("step_completed"), {{QStringLiteral("result"), QJsonObject{{QStringLiteral("rows"), 10}}}}, QStringLiteral("prep")),
        Test::event(run, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("Training")}}, QStringLiteral("train")),
        Test::event(run, QStringLiteral("error"), {{QStringLiteral("message"), QStringLiteral("disk almost full")}}),
    };
    out->httpSeqs = publishHttp(nam, srv, json(first));
    if (out->httpSeqs.size() != first.size()) {
        qWarning("POST of the sample array gave %d seqs", int(out->httpSeqs.size()));
        return false;
    }
    const QJsonArray second{
        Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), 30}, {QStringLiteral("loss"), 1.0}, {QStringLiteral("accuracy"), 0.75}}),
        Test::event(run, QStringLiteral("progress"), {{QStringLiteral("completed"), 30}, {QStringLiteral("total"), 100}, {QStringLiteral("epoch"), 2}, {QStringLiteral("total_epochs"), 4}}),
        Test::event(run, QStringLiteral("step_progress"), {{QStringLiteral("progress"), 0.5}}, QStringLiteral("train")),
    };
    out->wsSeqs = publishWs(producer, second, QStringLiteral("sample-1"));
    if (out->wsSeqs.size() != second.size()) {
        qWarning("the WebSocket publish of the sample gave %d seqs", int(out->wsSeqs.size()));
        return false;
    }
    const QString eval = QStringLiteral("eval1");
    const QJsonObject evalEvents[] = {
        Test::event(eval, QStringLiteral("run_started"), {{QStringLiteral("name"), QStringLiteral("Eval")}, {QStringLiteral("kind"), QStringLiteral("evaluation")}}),
        Test::event(eval, QStringLiteral("result"), {{QStringLiteral("item"), 1}, {QStringLiteral("ok"), true}}),
        Test::event(eval, QStringLiteral("result"), {{QStringLiteral("item"), 2}, {QStringLiteral("error"), QStringLiteral("wrong answer")}}),
        Test::event(eval, QStringLiteral("run_completed"), {{QStringLiteral("summary"), QJsonObject{{QStringLiteral("score"), 0.5}}}}),
    };
    for (const QJsonObject &e : evalEvents) {
        const QVector<qint64> s = publishHttp(nam, srv, json(e));
        if (s.size() != 1)
            return false;
        out->httpSeqs.append(s);
    }
    out->lastSeq = out->httpSeqs.last();
    return true;
}

} // namespace

class TestRest : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void dashboardIsHtml();
    void healthz();
    void bothPublishPathsFeedOneState();
    void runsListSummaries();
    void runDetailHasSteps();
    void eventsPagingMatchesWebSocket();
    void eventsSinceAndLimit_data();
    void eventsSinceAndLimit();
    void metricNames();
    void metricSeries_data();
    void metricSeries();
    void metricSeriesUnknownMetric();
    void postSingleAndArray();
    void postInvalid_data();
    void postInvalid();
    void clientsListsWebSocket();
    void subscribersCount();
    void deleteRun();
    void prometheusMetrics();
    void unknownRun_data();
    void unknownRun();
    void unknownPath_data();
    void unknownPath();
    void wrongMethod_data();
    void wrongMethod();
    void keepAliveSeveralRequests();
    void headRequest();
    void chunkedPost();
    void eventWithoutData();
    void mistypedTypeWarns();
    void progressStaysTrue();
    void metricsAsOneTableCsv();
    void nestedMetricsAreFlattened();
    void outOfRangeNumbers();
    void stepsArePagedAndBounded();
    void progressKeysAreBounded();
    void metricMemoryIsBounded();
    void hostHeaderGuard_data();
    void hostHeaderGuard();
    void hostHeaderGuardWebSocket();

private:
    QNetworkAccessManager m_nam;
};

void TestRest::dashboardIsHtml()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    for (const QString &path : {QStringLiteral("/"), QStringLiteral("/index.html")}) {
        const HttpResult r = get(m_nam, srv.http(path));
        QVERIFY2(r.finished, qPrintable(path));
        QCOMPARE(r.status, 200);
        QVERIFY2(r.header("Content-Type").startsWith("text/html"), r.header("Content-Type").constData());
        const QByteArray lower = r.body.toLower();
        QVERIFY2(lower.contains("<html") || lower.contains("<!doctype html"), r.body.left(200).constData());
    }
}

void TestRest::healthz()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    HttpResult r = get(m_nam, srv.http(QStringLiteral("/healthz")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").startsWith("application/json"));
    QJsonObject h = r.object();
    QCOMPARE(text(h, "status"), QStringLiteral("ok"));
    QVERIFY2(field(h, "version").isString() && !text(h, "version").isEmpty(), r.body.constData());
    QVERIFY2(field(h, "uptime_s").isDouble() && number(h, "uptime_s") >= 0, r.body.constData());
    QVERIFY2(field(h, "last_seq").isDouble(), r.body.constData());
    const double seqBefore = number(h, "last_seq");

    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    QVERIFY(!producer.waitMessage(QStringLiteral("welcome")).isEmpty());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));
    QVERIFY(sample.lastSeq > seqBefore);

    r = get(m_nam, srv.http(QStringLiteral("/healthz")));
    QCOMPARE(r.status, 200);
    h = r.object();
    QCOMPARE(qint64(number(h, "last_seq")), sample.lastSeq);
    QCOMPARE(text(h, "status"), QStringLiteral("ok"));

    // The same number a WebSocket client is told in its welcome.
    Test::WsProbe viewer;
    viewer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(viewer.waitConnected());
    const QJsonObject welcome = viewer.waitMessage(QStringLiteral("welcome"));
    QCOMPARE(qint64(number(welcome, "last_seq")), sample.lastSeq);

    // uptime grows (not a timing assert: a later answer has a larger one, however long that takes).
    const double uptime = number(h, "uptime_s");
    QTRY_VERIFY_WITH_TIMEOUT(number(get(m_nam, srv.http(QStringLiteral("/healthz"))).object(), "uptime_s") > uptime, Timeout);
}

void TestRest::bothPublishPathsFeedOneState()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    QVERIFY(!producer.waitMessage(QStringLiteral("welcome")).isEmpty());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));

    // One seq space across both paths: WebSocket seqs continue after the POSTed ones.
    QVector<qint64> all = sample.httpSeqs.mid(0, 7) + sample.wsSeqs + sample.httpSeqs.mid(7);
    QVERIFY2(strictlyIncreasing(all), "seqs of POST and publish op are not one increasing sequence");

    // Both kinds of events are in the run's stored history in one order.
    const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/train1/events")));
    QCOMPARE(r.status, 200);
    const QJsonArray events = r.array();
    QCOMPARE(events.size(), 10);
    QVector<qint64> stored;
    for (const QJsonValue &v : events)
        stored.append(qint64(number(v.toObject(), "seq")));
    QCOMPARE(stored, sample.httpSeqs.mid(0, 7) + sample.wsSeqs);

    // The metric series holds the POSTed points and the published one.
    const HttpResult loss = get(m_nam, srv.http(QStringLiteral("/api/runs/train1/metrics/loss")));
    QCOMPARE(loss.status, 200);
    const QJsonArray points = loss.object().value(QLatin1String("points")).toArray();
    QCOMPARE(points.size(), 3);
    QCOMPARE(points.at(2).toArray().at(0).toInt(), 30);
    QCOMPARE(points.at(2).toArray().at(1).toDouble(), 1.0);
}

void TestRest::runsListSummaries()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.isJsonArray());
    QCOMPARE(r.array().size(), 0);

    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));

    r = get(m_nam, srv.http(QStringLiteral("/api/runs")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").startsWith("application/json"));
    const QJsonArray runs = r.array();
    QCOMPARE(runs.size(), 2);

    const QJsonObject train = findById(runs, QStringLiteral("train1"));
    QVERIFY2(!train.isEmpty(), r.body.constData());
    QCOMPARE(text(train, "name"), QStringLiteral("Train One"));
    QCOMPARE(text(train, "kind"), QStringLiteral("training"));
    QCOMPARE(text(train, "status"), QStringLiteral("running"));
    QVERIFY2(nearlyEqual(number(train, "progress"), 0.3), json(train).constData());
    QCOMPARE(number(train, "current_step"), 30.0);
    QCOMPARE(number(train, "current_epoch"), 2.0);
    const QJsonObject metrics = field(train, "metrics").toObject();
    QCOMPARE(metrics.value(QLatin1String("loss")).toDouble(), 1.0);
    QCOMPARE(metrics.value(QLatin1String("accuracy")).toDouble(), 0.75);
    QVERIFY2(!metrics.contains(QLatin1String("step")), "step is the x axis, not a metric");
    QVERIFY2(isTimestamp(field(train, "started_at")), json(train).constData());
    QVERIFY2(field(train, "ended_at").isNull(), "a running run has not ended");
    QCOMPARE(number(train, "event_count"), 10.0);
    QCOMPARE(number(train, "error_count"), 1.0);

    const QJsonObject eval = findById(runs, QStringLiteral("eval1"));
    QVERIFY2(!eval.isEmpty(), r.body.constData());
    QCOMPARE(text(eval, "name"), QStringLiteral("Eval"));
    QCOMPARE(text(eval, "kind"), QStringLiteral("evaluation"));
    QCOMPARE(text(eval, "status"), QStringLiteral("completed"));
    QCOMPARE(number(eval, "progress"), 1.0);
    QVERIFY2(isTimestamp(field(eval, "started_at")), json(eval).constData());
    QVERIFY2(isTimestamp(field(eval, "ended_at")), json(eval).constData());
    QVERIFY(field(eval, "ended_at").toString() >= field(eval, "started_at").toString());
    QCOMPARE(number(eval, "event_count"), 4.0);
    QCOMPARE(number(eval, "error_count"), 1.0);

    // The list holds summaries; the steps table is the detail view's.
    QVERIFY(!train.contains(QLatin1String("steps")) || field(train, "steps").isArray());
}

void TestRest::runDetailHasSteps()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));

    const HttpResult list = get(m_nam, srv.http(QStringLiteral("/api/runs")));
    const QJsonObject fromList = findById(list.array(), QStringLiteral("train1"));
    const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/train1")));
    QCOMPARE(r.status, 200);
    const QJsonObject run = r.object();
    // The detail is the summary plus the steps.
    for (auto it = fromList.constBegin(); it != fromList.constEnd(); ++it) {
        if (it.key() == QLatin1String("updated_at") || it.key() == QLatin1String("steps"))
            continue;
        QVERIFY2(run.value(it.key()) == it.value(), qPrintable(it.key()));
    }
    const QJsonArray steps = field(run, "steps").toArray();
    QCOMPARE(steps.size(), 2);
    const QJsonObject prep = steps.at(0).toObject();
    const QJsonObject train = steps.at(1).toObject();
    QCOMPARE(text(prep, "id"), QStringLiteral("prep"));
    QCOMPARE(text(prep, "name"), QStringLiteral("Preparation"));
    QCOMPARE(text(prep, "status"), QStringLiteral("completed"));
    QCOMPARE(text(train, "id"), QStringLiteral("train"));
    QCOMPARE(text(train, "name"), QStringLiteral("Training"));
    QCOMPARE(text(train, "status"), QStringLiteral("running"));
    QCOMPARE(number(train, "progress"), 0.5);

    const HttpResult eval = get(m_nam, srv.http(QStringLiteral("/api/runs/eval1")));
    QCOMPARE(eval.status, 200);
    QCOMPARE(text(eval.object(), "id"), QStringLiteral("eval1"));
    QVERIFY(field(eval.object(), "steps").isArray());
    QCOMPARE(field(eval.object(), "steps").toArray().size(), 0);
}

void TestRest::eventsPagingMatchesWebSocket()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const QString run = QStringLiteral("page");
    Test::WsProbe watcher;
    watcher.open(srv.ws(QStringLiteral("/ws/runs/page")));
    QVERIFY(watcher.waitConnected());
    QVERIFY(!watcher.waitMessage(QStringLiteral("welcome")).isEmpty());
    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());

    // 25 events of "page", through both paths, interleaved with another run's.
    int n = 0;
    auto metric = [&](const QString &r) {
        const int step = n++;
        return Test::event(r, QStringLiteral("metric"), {{QStringLiteral("step"), step}, {QStringLiteral("loss"), 1.0 / (step + 1)}});
    };
    QJsonArray batch;
    for (int i = 0; i < 10; ++i) {
        batch.append(metric(run));
        batch.append(metric(QStringLiteral("other")));
    }
    QCOMPARE(publishHttp(m_nam, srv, json(batch)).size(), 20);
    for (int op = 0; op < 2; ++op) {
        QJsonArray events;
        for (int i = 0; i < 5; ++i)
            events.append(metric(run));
        events.append(metric(QStringLiteral("other")));
        QCOMPARE(publishWs(producer, events, QStringLiteral("op%1").arg(op)).size(), 6);
    }
    for (int i = 0; i < 5; ++i) {
        QJsonObject e = metric(run);
        if (i == 2)
            e = Test::event(run, QStringLiteral("step_started"), {{QStringLiteral("name"), QStringLiteral("s")}}, QStringLiteral("s1"));
        QCOMPARE(publishHttp(m_nam, srv, json(e)).size(), 1);
    }
    QVERIFY2(watcher.waitEvents(25, Timeout), qPrintable(QString::number(watcher.events().size())));
    QCOMPARE(watcher.events().size(), 25);

    // Page through with a small limit, following X-Runwatch-Next-Since to the end.
    QVector<QJsonObject> paged;
    qint64 since = 0;
    int pages = 0;
    for (;;) {
        const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/page/events?since=%1&limit=7").arg(since)));
        QCOMPARE(r.status, 200);
        QVERIFY(r.isJsonArray());
        const QJsonArray page = r.array();
        QVERIFY2(page.size() <= 7, qPrintable(QString::number(page.size())));
        for (const QJsonValue &v : page) {
            QVERIFY(qint64(number(v.toObject(), "seq")) > since);
            paged.append(v.toObject());
        }
        QVERIFY2(++pages <= 10, "paging does not end");
        if (!r.hasHeader("X-Runwatch-Next-Since")) {
            QVERIFY2(page.size() < 7, "a full page without X-Runwatch-Next-Since although more remain");
            break;
        }
        bool ok = false;
        const qint64 next = r.header("X-Runwatch-Next-Since").toLongLong(&ok);
        QVERIFY2(ok && next > since, r.header("X-Runwatch-Next-Since").constData());
        QVERIFY(!page.isEmpty());
        QCOMPARE(next, qint64(number(page.last().toObject(), "seq")));
        since = next;
    }
    QCOMPARE(pages, 4);
    QCOMPARE(paged.size(), 25);
    QVector<qint64> seqs;
    for (const QJsonObject &e : std::as_const(paged)) {
        seqs.append(qint64(number(e, "seq")));
        QCOMPARE(text(e, "run"), run);
    }
    QVERIFY(strictlyIncreasing(seqs));
    // The very envelopes the WebSocket subscriber got.
    for (int i = 0; i < paged.size(); ++i)
        QVERIFY2(paged.at(i) == watcher.events().at(i), json(paged.at(i)).constData());
    QCOMPARE(text(paged.at(22), "step"), QStringLiteral("s1"));
    QVERIFY(isTimestamp(field(paged.at(0), "ts")));
}

void TestRest::eventsSinceAndLimit_data()
{
    QTest::addColumn<QString>("query");
    QTest::addColumn<int>("sinceIndex"); // events after this index (-1: from the start)
    QTest::addColumn<int>("count");
    QTest::addColumn<bool>("nextHeader");
    QTest::newRow("no parameters: all") << QString() << -1 << 12 << false;
    QTest::newRow("since=0") << QStringLiteral("since=0") << -1 << 12 << false;
    QTest::newRow("limit=5") << QStringLiteral("limit=5") << -1 << 5 << true;
    QTest::newRow("since 4th") << QStringLiteral("since=%4") << 3 << 8 << false;
    QTest::newRow("since 4th, limit 3") << QStringLiteral("since=%4&limit=3") << 3 << 3 << true;
    QTest::newRow("since last") << QStringLiteral("since=%last") << 11 << 0 << false;
    QTest::newRow("limit larger than all") << QStringLiteral("limit=1000") << -1 << 12 << false;
}

void TestRest::eventsSinceAndLimit()
{
    QFETCH(QString, query);
    QFETCH(int, sinceIndex);
    QFETCH(int, count);
    QFETCH(bool, nextHeader);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QJsonArray batch;
    for (int i = 0; i < 12; ++i) {
        batch.append(Test::event(QStringLiteral("r"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("line %1").arg(i)}}));
        batch.append(Test::event(QStringLiteral("x"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x %1").arg(i)}}));
    }
    const QVector<qint64> all = publishHttp(m_nam, srv, json(batch));
    QCOMPARE(all.size(), 24);
    QVector<qint64> mine;
    for (int i = 0; i < all.size(); i += 2)
        mine.append(all.at(i));
    query.replace(QLatin1String("%4"), QString::number(mine.at(3)));
    query.replace(QLatin1String("%last"), QString::number(mine.last()));
    const HttpResult r = get(m_nam, srv.http(query.isEmpty() ? QStringLiteral("/api/runs/r/events") : QStringLiteral("/api/runs/r/events?") + query));
    QCOMPARE(r.status, 200);
    QVERIFY(r.isJsonArray());
    const QJsonArray events = r.array();
    QCOMPARE(events.size(), count);
    for (int i = 0; i < count; ++i) {
        const QJsonObject e = events.at(i).toObject();
        QCOMPARE(qint64(number(e, "seq")), mine.at(sinceIndex + 1 + i));
        QCOMPARE(text(e, "run"), QStringLiteral("r"));
        QCOMPARE(text(e, "type"), QStringLiteral("log"));
        QCOMPARE(text(field(e, "data").toObject(), "message"), QStringLiteral("line %1").arg(sinceIndex + 1 + i));
    }
    QCOMPARE(r.hasHeader("X-Runwatch-Next-Since"), nextHeader);
    if (nextHeader)
        QCOMPARE(r.header("X-Runwatch-Next-Since").toLongLong(), qint64(number(events.last().toObject(), "seq")));
}

void TestRest::metricNames()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));
    HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/train1/metrics")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.isJsonArray());
    QStringList names;
    for (const QJsonValue &v : r.array()) {
        QVERIFY(v.isString());
        names.append(v.toString());
    }
    names.sort();
    QCOMPARE(names, (QStringList{QStringLiteral("accuracy"), QStringLiteral("loss")}));

    r = get(m_nam, srv.http(QStringLiteral("/api/runs/eval1/metrics")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.isJsonArray());
    QCOMPARE(r.array().size(), 0);
}

void TestRest::metricSeries_data()
{
    QTest::addColumn<int>("maxPoints"); // 0: parameter not given
    QTest::addColumn<QString>("format");
    QTest::addColumn<bool>("keepsSpecials");
    for (const QString &format : {QStringLiteral("json"), QStringLiteral("csv")}) {
        QTest::addRow("%s all", qPrintable(format)) << 0 << format << true;
        QTest::addRow("%s max 1", qPrintable(format)) << 1 << format << false;
        QTest::addRow("%s max 2", qPrintable(format)) << 2 << format << false;
        QTest::addRow("%s max 3", qPrintable(format)) << 3 << format << false;
        QTest::addRow("%s max 10", qPrintable(format)) << 10 << format << true;
        QTest::addRow("%s max 64", qPrintable(format)) << 64 << format << true;
        QTest::addRow("%s max 101", qPrintable(format)) << 101 << format << true;
        QTest::addRow("%s max 999", qPrintable(format)) << 999 << format << true;
        QTest::addRow("%s max 1000", qPrintable(format)) << 1000 << format << true;
        QTest::addRow("%s max 5000", qPrintable(format)) << 5000 << format << true;
    }
}

void TestRest::metricSeries()
{
    QFETCH(int, maxPoints);
    QFETCH(QString, format);
    QFETCH(bool, keepsSpecials);
    constexpr int N = 1000;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();

    // "loss" holds a global finite min (-50 at 123), max (80 at 777) and NaN, +Inf, -Inf at
    // 300, 500, 900: each in a bucket of its own for any max_points of 10 or more.
    // "acc" is finite: min -7 at 321, max 9 at 654. Steps are 1000 + 3*i.
    QHash<qint64, double> loss, acc;
    QJsonArray batch;
    for (int i = 0; i < N; ++i) {
        const qint64 step = 1000 + 3 * i;
        double l = 10.0 * std::sin(i / 25.0);
        double a = std::cos(i / 40.0);
        if (i == 123)
            l = -50;
        if (i == 777)
            l = 80;
        if (i == 300)
            l = nan;
        if (i == 500)
            l = inf;
        if (i == 900)
            l = -inf;
        if (i == 321)
            a = -7;
        if (i == 654)
            a = 9;
        loss.insert(step, l);
        acc.insert(step, a);
        QJsonValue lv = l;
        if (std::isnan(l))
            lv = QStringLiteral("NaN");
        else if (std::isinf(l))
            lv = l > 0 ? QStringLiteral("Infinity") : QStringLiteral("-Infinity");
        batch.append(Test::event(QStringLiteral("ds"), QStringLiteral("metric"),
                                 {{QStringLiteral("step"), double(step)}, {QStringLiteral("loss"), lv}, {QStringLiteral("acc"), a}}));
    }
    Test::TestServer srv;
    QVERIFY(srv.start());
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    QCOMPARE(publishHttp(m_nam, srv, json(batch)).size(), N);
    const qint64 after = QDateTime::currentMSecsSinceEpoch();

    struct Point {
        qint64 step;
        double value;
        qint64 ts;
    };
    auto fetchSeries = [&](const QString &name, QVector<Point> *points, qint64 *total) -> bool {
        QString query = QStringLiteral("format=") + format;
        if (maxPoints > 0)
            query += QStringLiteral("&max_points=%1").arg(maxPoints);
        const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/ds/metrics/%1?%2").arg(name, query)));
        if (r.status != 200) {
            qWarning("series %s: status %d %s", qPrintable(name), r.status, r.body.constData());
            return false;
        }
        points->clear();
        if (format == QLatin1String("csv")) {
            if (!r.header("Content-Type").startsWith("text/csv")) {
                qWarning("csv content type: %s", r.header("Content-Type").constData());
                return false;
            }
            QList<QByteArray> lines = r.body.split('\n');
            while (!lines.isEmpty() && lines.last().trimmed().isEmpty())
                lines.removeLast();
            if (lines.isEmpty() || lines.first().trimmed() != "step,value,ts") {
                qWarning("csv header: %s", lines.value(0).constData());
                return false;
            }
            for (int i = 1; i < lines.size(); ++i) {
                const QList<QByteArray> cells = lines.at(i).trimmed().split(',');
                if (cells.size() != 3) {
                    qWarning("csv row: %s", lines.at(i).constData());
                    return false;
                }
                Point p{cells.at(0).toLongLong(), 0, cells.at(2).toLongLong()};
                const QByteArray v = cells.at(1);
                if (v == "NaN")
                    p.value = nan;
                else if (v == "Infinity")
                    p.value = inf;
                else if (v == "-Infinity")
                    p.value = -inf;
                else {
                    bool ok = false;
                    p.value = v.toDouble(&ok);
                    if (!ok || !std::isfinite(p.value)) {
                        qWarning("csv value: %s", v.constData());
                        return false;
                    }
                }
                points->append(p);
            }
            *total = N; // csv has no total line
            return true;
        }
        const QJsonObject o = r.object();
        if (text(o, "run") != QLatin1String("ds") || text(o, "name") != name || !field(o, "total").isDouble()) {
            qWarning("series head: %s", r.body.left(200).constData());
            return false;
        }
        *total = qint64(number(o, "total"));
        for (const QJsonValue &v : field(o, "points").toArray()) {
            const QJsonArray a = v.toArray();
            if (a.size() != 3 || !a.at(0).isDouble() || !a.at(2).isDouble()) {
                qWarning("point: %s", json(a).constData());
                return false;
            }
            Point p{qint64(a.at(0).toDouble()), 0, qint64(a.at(2).toDouble())};
            const QJsonValue value = a.at(1);
            if (value.isDouble()) {
                p.value = value.toDouble();
            } else if (value.toString() == QLatin1String("NaN")) {
                p.value = nan;
            } else if (value.toString() == QLatin1String("Infinity")) {
                p.value = inf;
            } else if (value.toString() == QLatin1String("-Infinity")) {
                p.value = -inf;
            } else {
                qWarning("point value: %s", json(a).constData());
                return false;
            }
            points->append(p);
        }
        return true;
    };
    auto same = [](double a, double b) {
        if (std::isnan(a) || std::isnan(b))
            return std::isnan(a) && std::isnan(b);
        if (std::isinf(a) || std::isinf(b))
            return a == b;
        return nearlyEqual(a, b);
    };
    auto has = [](const QVector<Point> &points, qint64 step) {
        return std::any_of(points.cbegin(), points.cend(), [step](const Point &p) { return p.step == step; });
    };

    for (const QString &name : {QStringLiteral("loss"), QStringLiteral("acc")}) {
        const QHash<qint64, double> &sent = name == QLatin1String("loss") ? loss : acc;
        QVector<Point> points;
        qint64 total = 0;
        QVERIFY2(fetchSeries(name, &points, &total), qPrintable(name));
        QCOMPARE(total, qint64(N));
        if (maxPoints == 0 || maxPoints >= N)
            QCOMPARE(points.size(), N);
        else
            QVERIFY2(points.size() <= maxPoints && !points.isEmpty(),
                     qPrintable(QStringLiteral("%1: %2 points for max_points=%3").arg(name).arg(points.size()).arg(maxPoints)));
        qint64 lastStep = -1;
        for (const Point &p : std::as_const(points)) {
            QVERIFY2(sent.contains(p.step), qPrintable(QString::number(p.step)));
            QVERIFY2(same(p.value, sent.value(p.step)), qPrintable(QStringLiteral("step %1: %2").arg(p.step).arg(p.value)));
            QVERIFY2(p.step > lastStep, "points not in step order");
            lastStep = p.step;
            QVERIFY2(p.ts >= before - 1000 && p.ts <= after + 1000, qPrintable(QString::number(p.ts)));
        }
        // The line starts and ends where the data does (a budget of 4 or more; 7 or more when the
        // series holds NaN or Infinity, which come first).
        if (maxPoints == 0 || maxPoints >= (name == QLatin1String("loss") ? 7 : 4)) {
            QVERIFY2(has(points, 1000), qPrintable(name + QStringLiteral(": the first point was dropped")));
            QVERIFY2(has(points, 1000 + 3 * (N - 1)), qPrintable(name + QStringLiteral(": the last point was dropped")));
        }
        if (maxPoints == 0 || maxPoints >= 2) {
            if (name == QLatin1String("acc")) {
                QVERIFY2(has(points, 1000 + 3 * 321), "the global minimum was dropped");
                QVERIFY2(has(points, 1000 + 3 * 654), "the global maximum was dropped");
            }
        }
        if (name == QLatin1String("loss") && keepsSpecials) {
            QVERIFY2(has(points, 1000 + 3 * 123), "the finite minimum was dropped");
            QVERIFY2(has(points, 1000 + 3 * 777), "the finite maximum was dropped");
            QVERIFY2(has(points, 1000 + 3 * 300), "NaN was dropped");
            QVERIFY2(has(points, 1000 + 3 * 500), "Infinity was dropped");
            QVERIFY2(has(points, 1000 + 3 * 900), "-Infinity was dropped");
        }
    }
}

void TestRest::metricSeriesUnknownMetric()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("m"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}))).size(), 1);
    const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/m/metrics/nope")));
    QCOMPARE(r.status, 404);
    QCOMPARE(r.errorCode(), QStringLiteral("UNKNOWN_METRIC"));
    QVERIFY(!r.errorMessage().isEmpty());
    // Without step the x of a point is its index in the series.
    const HttpResult ok = get(m_nam, srv.http(QStringLiteral("/api/runs/m/metrics/loss")));
    QCOMPARE(ok.status, 200);
    QCOMPARE(number(ok.object(), "total"), 1.0);
}

void TestRest::postSingleAndArray()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    HttpResult r = post(m_nam, srv.http(QStringLiteral("/api/events")),
                   json(Test::event(QStringLiteral("p"), QStringLiteral("log"), {{QStringLiteral("level"), QStringLiteral("info")}, {QStringLiteral("message"), QStringLiteral("hi")}})));
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").startsWith("application/json"));
    QJsonObject o = r.object();
    QCOMPARE(number(o, "accepted"), 1.0);
    QVector<qint64> first = seqsOf(field(o, "seq").toArray());
    QCOMPARE(first.size(), 1);
    QVERIFY(first.at(0) > 0);

    const QJsonArray three{
        Test::event(QStringLiteral("p"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}),
        Test::event(QStringLiteral("q"), QStringLiteral("quality_check"), {{QStringLiteral("passed"), true}}),
        Test::event(QStringLiteral("p"), QStringLiteral("token"), {{QStringLiteral("text"), QStringLiteral("Hello")}}),
    };
    r = post(m_nam, srv.http(QStringLiteral("/api/events")), json(three));
    QCOMPARE(r.status, 200);
    o = r.object();
    QCOMPARE(number(o, "accepted"), 3.0);
    const QVector<qint64> seqs = seqsOf(field(o, "seq").toArray());
    QCOMPARE(seqs.size(), 3);
    QVERIFY(strictlyIncreasing(first + seqs));

    // Stored as sent, under the assigned seqs; an unknown type is forwarded unchanged.
    r = get(m_nam, srv.http(QStringLiteral("/api/runs/q/events")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 1);
    const QJsonObject stored = r.array().at(0).toObject();
    QCOMPARE(qint64(number(stored, "seq")), seqs.at(1));
    QCOMPARE(text(stored, "type"), QStringLiteral("quality_check"));
    QCOMPARE(field(stored, "data").toObject(), (QJsonObject{{QStringLiteral("passed"), true}}));

    // Python's json.dumps writes bare NaN / Infinity: accepted, stored as the strings.
    r = post(m_nam, srv.http(QStringLiteral("/api/events")),
             QByteArrayLiteral("{\"run\": \"nf\", \"type\": \"metric\", \"data\": {\"step\": 1, \"loss\": NaN, \"gn\": Infinity, \"lo\": -Infinity}}"));
    QCOMPARE(r.status, 200);
    r = get(m_nam, srv.http(QStringLiteral("/api/runs/nf/events")));
    const QJsonObject data = field(r.array().at(0).toObject(), "data").toObject();
    QCOMPARE(text(data, "loss"), QStringLiteral("NaN"));
    QCOMPARE(text(data, "gn"), QStringLiteral("Infinity"));
    QCOMPARE(text(data, "lo"), QStringLiteral("-Infinity"));
}

void TestRest::postInvalid_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("code");
    const QByteArray longRun(129, 'a');
    QTest::newRow("truncated JSON") << QByteArrayLiteral("{\"run\": \"bad\", ") << QStringLiteral("INVALID_JSON");
    QTest::newRow("not JSON") << QByteArrayLiteral("hello") << QStringLiteral("INVALID_JSON");
    QTest::newRow("empty body") << QByteArray() << QStringLiteral("INVALID_JSON");
    QTest::newRow("bad run id") << QByteArrayLiteral("{\"run\":\"has space\",\"type\":\"log\",\"data\":{}}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("run id too long") << QByteArray("{\"run\":\"" + longRun + "\",\"type\":\"log\",\"data\":{}}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("missing run") << QByteArrayLiteral("{\"type\":\"log\",\"data\":{}}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("missing type") << QByteArrayLiteral("{\"run\":\"bad\",\"data\":{}}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("missing data") << QByteArrayLiteral("{\"run\":\"bad\",\"type\":\"log\"}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("data not an object") << QByteArrayLiteral("{\"run\":\"bad\",\"type\":\"log\",\"data\":[1]}") << QStringLiteral("INVALID_EVENT");
    QTest::newRow("array, last event bad")
        << QByteArrayLiteral("[{\"run\":\"bad\",\"type\":\"log\",\"data\":{\"message\":\"ok\"}},"
                             "{\"run\":\"bad\",\"type\":\"metric\",\"data\":{\"loss\":1}},"
                             "{\"run\":\"bad\",\"type\":\"log\",\"data\":\"nope\"}]")
        << QStringLiteral("INVALID_EVENT");
    QTest::newRow("array, middle event bad")
        << QByteArrayLiteral("[{\"run\":\"bad\",\"type\":\"log\",\"data\":{}},{\"run\":\"bad bad\",\"type\":\"log\",\"data\":{}},"
                             "{\"run\":\"bad\",\"type\":\"log\",\"data\":{}}]")
        << QStringLiteral("INVALID_EVENT");
    QTest::newRow("array holding a number") << QByteArrayLiteral("[{\"run\":\"bad\",\"type\":\"log\",\"data\":{}}, 5]") << QStringLiteral("INVALID_EVENT");
}

void TestRest::postInvalid()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, code);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("good"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}))).size(), 1);
    const qint64 lastSeq = qint64(number(get(m_nam, srv.http(QStringLiteral("/healthz"))).object(), "last_seq"));

    const HttpResult r = post(m_nam, srv.http(QStringLiteral("/api/events")), body);
    QCOMPARE(r.status, 400);
    QVERIFY(r.header("Content-Type").startsWith("application/json"));
    QVERIFY2(r.isJsonObject(), r.body.constData());
    QVERIFY2(field(r.object(), "error").isObject(), r.body.constData());
    QCOMPARE(r.errorCode(), code);
    QVERIFY2(!r.errorMessage().isEmpty(), r.body.constData());

    // Nothing of it was stored: no run "bad", no seq used, the earlier run intact.
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/bad"))).status, 404);
    const QJsonArray runs = get(m_nam, srv.http(QStringLiteral("/api/runs"))).array();
    QCOMPARE(runs.size(), 1);
    QCOMPARE(text(runs.at(0).toObject(), "id"), QStringLiteral("good"));
    QCOMPARE(qint64(number(get(m_nam, srv.http(QStringLiteral("/healthz"))).object(), "last_seq")), lastSeq);

    // The server still takes good events afterwards, with the next seq.
    const QVector<qint64> next = publishHttp(m_nam, srv, json(Test::event(QStringLiteral("good"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("y")}})));
    QCOMPARE(next.size(), 1);
    QVERIFY(next.at(0) > lastSeq);
}

void TestRest::clientsListsWebSocket()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/clients")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.isJsonArray());
    QCOMPARE(r.array().size(), 0);

    Test::WsProbe probe;
    probe.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(probe.waitConnected());
    const QJsonObject welcome = probe.waitMessage(QStringLiteral("welcome"));
    const QString id = text(welcome, "client_id");
    QVERIFY(!id.isEmpty());
    probe.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("watched")}});
    QVERIFY(!probe.waitMessage(QStringLiteral("subscribed")).isEmpty());

    r = get(m_nam, srv.http(QStringLiteral("/api/clients")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 1);
    const QJsonObject client = findById(r.array(), id);
    QVERIFY2(!client.isEmpty(), r.body.constData());
    QVERIFY2(text(client, "peer").contains(QLatin1String("127.0.0.1")), r.body.constData());
    QCOMPARE(text(client, "role"), QStringLiteral("admin"));
    QVERIFY(field(client, "subscriptions").isArray());
    QVERIFY2(field(client, "subscriptions").toArray().contains(QStringLiteral("watched")), r.body.constData());
    QVERIFY2(isTimestamp(field(client, "connected_at")), r.body.constData());
    QVERIFY2(field(client, "queued_bytes").isDouble() && number(client, "queued_bytes") >= 0, r.body.constData());

    // A second client on a path subscription shows up too; a closed one disappears.
    Test::WsProbe second;
    second.open(srv.ws(QStringLiteral("/ws/runs/other")));
    QVERIFY(second.waitConnected());
    const QString secondId = text(second.waitMessage(QStringLiteral("welcome")), "client_id");
    r = get(m_nam, srv.http(QStringLiteral("/api/clients")));
    QCOMPARE(r.array().size(), 2);
    QVERIFY(field(findById(r.array(), secondId), "subscriptions").toArray().contains(QStringLiteral("other")));
    probe.socket().close();
    QVERIFY(probe.waitClosed());
    QTRY_VERIFY_WITH_TIMEOUT(get(m_nam, srv.http(QStringLiteral("/api/clients"))).array().size() == 1, Timeout);
    QVERIFY(!findById(get(m_nam, srv.http(QStringLiteral("/api/clients"))).array(), secondId).isEmpty());
}

void TestRest::subscribersCount()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("sub"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}))).size(), 1);
    HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/sub/subscribers")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.object(), (QJsonObject{{QStringLiteral("run"), QStringLiteral("sub")}, {QStringLiteral("subscribers"), 0}}));

    Test::WsProbe a, b, c;
    a.open(srv.ws(QStringLiteral("/ws/runs/sub")));
    b.open(srv.ws(QStringLiteral("/ws")));
    c.open(srv.ws(QStringLiteral("/ws/runs/elsewhere")));
    QVERIFY(a.waitConnected());
    QVERIFY(b.waitConnected());
    QVERIFY(c.waitConnected());
    QVERIFY(a.waitEvents(1)); // replay done, so the subscription exists
    b.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("sub")}});
    QVERIFY(!b.waitMessage(QStringLiteral("subscribed")).isEmpty());
    r = get(m_nam, srv.http(QStringLiteral("/api/runs/sub/subscribers")));
    QCOMPARE(r.status, 200);
    QCOMPARE(text(r.object(), "run"), QStringLiteral("sub"));
    QCOMPARE(number(r.object(), "subscribers"), 2.0);

    b.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("unsubscribe")}, {QStringLiteral("run"), QStringLiteral("sub")}});
    QVERIFY(!b.waitMessage(QStringLiteral("unsubscribed")).isEmpty());
    QCOMPARE(number(get(m_nam, srv.http(QStringLiteral("/api/runs/sub/subscribers"))).object(), "subscribers"), 1.0);
    a.socket().close();
    QVERIFY(a.waitClosed());
    QTRY_COMPARE_WITH_TIMEOUT(number(get(m_nam, srv.http(QStringLiteral("/api/runs/sub/subscribers"))).object(), "subscribers"), 0.0, Timeout);
}

void TestRest::deleteRun()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    Test::WsProbe producer;
    producer.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(producer.waitConnected());
    Sample sample;
    QVERIFY(publishSample(m_nam, srv, producer, &sample));

    HttpResult r = httpCall(m_nam, QByteArrayLiteral("DELETE"), srv.http(QStringLiteral("/api/runs/train1")));
    QVERIFY2(r.status == 200 || r.status == 204, qPrintable(QString::number(r.status)));

    for (const QString &path : {QStringLiteral("/api/runs/train1"), QStringLiteral("/api/runs/train1/events"),
                                QStringLiteral("/api/runs/train1/metrics"), QStringLiteral("/api/runs/train1/metrics/loss")}) {
        r = get(m_nam, srv.http(path));
        QVERIFY2(r.status == 404, qPrintable(path));
        QCOMPARE(r.errorCode(), QStringLiteral("UNKNOWN_RUN"));
    }
    const QJsonArray runs = get(m_nam, srv.http(QStringLiteral("/api/runs"))).array();
    QCOMPARE(runs.size(), 1);
    QCOMPARE(text(runs.at(0).toObject(), "id"), QStringLiteral("eval1"));
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/eval1/events"))).array().size(), 4);

    r = httpCall(m_nam, QByteArrayLiteral("DELETE"), srv.http(QStringLiteral("/api/runs/train1")));
    QCOMPARE(r.status, 404);
    QCOMPARE(r.errorCode(), QStringLiteral("UNKNOWN_RUN"));

    // Its events are gone for good: neither REST nor a WebSocket replay brings them back.
    Test::WsProbe late;
    late.open(srv.ws(QStringLiteral("/ws")));
    QVERIFY(late.waitConnected());
    late.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), QStringLiteral("train1")}, {QStringLiteral("since"), 0}});
    QVERIFY(!late.waitMessage(QStringLiteral("subscribed")).isEmpty());
    QCOMPARE(late.events().size(), 0);

    // The id can be used again: a fresh run with only the new event.
    const QVector<qint64> again = publishHttp(m_nam, srv, json(Test::event(QStringLiteral("train1"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("again")}})));
    QCOMPARE(again.size(), 1);
    QVERIFY(again.at(0) > sample.lastSeq);
    r = get(m_nam, srv.http(QStringLiteral("/api/runs/train1/events")));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.array().size(), 1);
    QCOMPARE(number(get(m_nam, srv.http(QStringLiteral("/api/runs/train1"))).object(), "event_count"), 1.0);
}

void TestRest::prometheusMetrics()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    Test::WsProbe watcher;
    watcher.open(srv.ws(QStringLiteral("/ws/runs/prom")));
    QVERIFY(watcher.waitConnected());
    QVERIFY(!watcher.waitMessage(QStringLiteral("welcome")).isEmpty());

    HttpResult r = get(m_nam, srv.http(QStringLiteral("/metrics")));
    QCOMPARE(r.status, 200);
    QVERIFY2(r.header("Content-Type").startsWith("text/plain"), r.header("Content-Type").constData());
    const Prometheus first = parsePrometheus(r.body);
    QVERIFY2(first.ok, qPrintable(first.problem));
    QVERIFY(!first.samples.isEmpty());
    // Every family has a TYPE line.
    for (auto it = first.samples.constBegin(); it != first.samples.constEnd(); ++it) {
        const QString family = it.key().section(QLatin1Char('{'), 0, 0);
        QVERIFY2(first.types.contains(family) || first.types.contains(family.section(QLatin1Char('_'), 0, -2)),
                 qPrintable(QStringLiteral("no # TYPE for ") + family));
    }
    double connections = 0, ingested0 = 0, frames0 = 0, dropped = 0, queue = 0;
    QVERIFY2(first.find(QStringLiteral("connections"), &connections), r.body.constData());
    QVERIFY2(first.find(QStringLiteral("events_ingested"), &ingested0), r.body.constData());
    QVERIFY2(first.find(QStringLiteral("frames_sent"), &frames0), r.body.constData());
    QVERIFY2(first.find(QStringLiteral("dropped"), &dropped), r.body.constData());
    QVERIFY2(first.find(QStringLiteral("queue_bytes"), &queue), r.body.constData());
    QVERIFY2(connections >= 1, "the open WebSocket is not counted");
    QVERIFY(queue >= 0);

    QJsonArray batch;
    for (int i = 0; i < 5; ++i)
        batch.append(Test::event(QStringLiteral("prom"), QStringLiteral("metric"), {{QStringLiteral("step"), i}, {QStringLiteral("loss"), i}}));
    QCOMPARE(publishHttp(m_nam, srv, json(batch)).size(), 5);
    QVERIFY(watcher.waitEvents(5));

    double ingested1 = 0, frames1 = 0;
    auto grown = [&] {
        const Prometheus p = parsePrometheus(get(m_nam, srv.http(QStringLiteral("/metrics"))).body);
        return p.ok && p.find(QStringLiteral("events_ingested"), &ingested1) && p.find(QStringLiteral("frames_sent"), &frames1)
            && ingested1 >= ingested0 + 5 && frames1 > frames0;
    };
    QTRY_VERIFY_WITH_TIMEOUT(grown(), Timeout);
    QCOMPARE(ingested1, ingested0 + 5);
}

void TestRest::unknownRun_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::newRow("run") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope");
    QTest::newRow("events") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/events");
    QTest::newRow("events since") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/events?since=0&limit=5");
    QTest::newRow("metrics") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/metrics");
    QTest::newRow("metric series") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/metrics/loss");
    QTest::newRow("metric series csv") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/metrics/loss?format=csv");
    QTest::newRow("subscribers") << QByteArrayLiteral("GET") << QStringLiteral("/api/runs/nope/subscribers");
    QTest::newRow("delete") << QByteArrayLiteral("DELETE") << QStringLiteral("/api/runs/nope");
}

void TestRest::unknownRun()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("known"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}))).size(), 1);
    const HttpResult r = httpCall(m_nam, method, srv.http(path));
    QCOMPARE(r.status, 404);
    QVERIFY(r.header("Content-Type").startsWith("application/json"));
    QCOMPARE(r.errorCode(), QStringLiteral("UNKNOWN_RUN"));
    QVERIFY(!r.errorMessage().isEmpty());
}

void TestRest::unknownPath_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("top level") << QStringLiteral("/nope");
    QTest::newRow("api") << QStringLiteral("/api");
    QTest::newRow("api other") << QStringLiteral("/api/nope");
    QTest::newRow("run sub-resource") << QStringLiteral("/api/runs/known/nope");
    QTest::newRow("too deep events") << QStringLiteral("/api/runs/known/events/1");
    QTest::newRow("static file") << QStringLiteral("/favicon-does-not-exist.png");
}

void TestRest::unknownPath()
{
    QFETCH(QString, path);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("known"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}))).size(), 1);
    const HttpResult r = get(m_nam, srv.http(path));
    QCOMPARE(r.status, 404);
    QCOMPARE(r.errorCode(), QStringLiteral("NOT_FOUND"));
}

void TestRest::wrongMethod_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::newRow("POST /healthz") << QByteArrayLiteral("POST") << QStringLiteral("/healthz");
    QTest::newRow("POST /") << QByteArrayLiteral("POST") << QStringLiteral("/");
    QTest::newRow("GET /api/events") << QByteArrayLiteral("GET") << QStringLiteral("/api/events");
    QTest::newRow("PUT /api/events") << QByteArrayLiteral("PUT") << QStringLiteral("/api/events");
    QTest::newRow("POST /api/runs") << QByteArrayLiteral("POST") << QStringLiteral("/api/runs");
    QTest::newRow("PATCH /api/runs/known") << QByteArrayLiteral("PATCH") << QStringLiteral("/api/runs/known");
    QTest::newRow("POST /api/runs/known/events") << QByteArrayLiteral("POST") << QStringLiteral("/api/runs/known/events");
    QTest::newRow("DELETE /api/runs/known/metrics") << QByteArrayLiteral("DELETE") << QStringLiteral("/api/runs/known/metrics");
    QTest::newRow("DELETE /api/clients") << QByteArrayLiteral("DELETE") << QStringLiteral("/api/clients");
    QTest::newRow("POST /metrics") << QByteArrayLiteral("POST") << QStringLiteral("/metrics");
}

void TestRest::wrongMethod()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("known"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}}))).size(), 1);
    const HttpResult r = httpCall(m_nam, method, srv.http(path), QByteArray(), QByteArrayLiteral("{}"));
    QCOMPARE(r.status, 405);
    QCOMPARE(r.errorCode(), QStringLiteral("METHOD_NOT_ALLOWED"));
    QVERIFY2(r.hasHeader("Allow"), "405 without an Allow header");
    // The run is untouched by whatever the wrong method was.
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/known/events"))).array().size(), 1);
}

void TestRest::keepAliveSeveralRequests()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const quint16 port = srv.port();
    RawHttp http;
    QVERIFY(http.connectTo(port));
    RawResponse r;

    // Several requests one after the other on one connection, a POST with a body among them.
    for (int i = 0; i < 3; ++i) {
        http.write(requestHead("GET", "/healthz", port));
        QVERIFY(http.read(&r));
        QCOMPARE(r.status, 200);
        QVERIFY(r.header("Connection").toLower() != "close");
        QCOMPARE(text(QJsonDocument::fromJson(r.body).object(), "status"), QStringLiteral("ok"));
    }
    const QByteArray body = json(Test::event(QStringLiteral("ka"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("kept alive")}}));
    http.write(requestHead("POST", "/api/events", port,
                           "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n") + body);
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QCOMPARE(QJsonDocument::fromJson(r.body).object().value(QLatin1String("accepted")).toInt(), 1);
    http.write(requestHead("GET", "/api/runs/ka/events", port));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QCOMPARE(QJsonDocument::fromJson(r.body).array().size(), 1);
    // An error answer keeps the connection usable too.
    http.write(requestHead("GET", "/api/runs/none", port));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 404);
    QVERIFY(http.isConnected());

    // Pipelined: two requests in one write, two answers in order.
    http.write(requestHead("GET", "/api/runs/ka", port) + requestHead("GET", "/api/runs/ka/metrics", port));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QCOMPARE(text(QJsonDocument::fromJson(r.body).object(), "id"), QStringLiteral("ka"));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QVERIFY(QJsonDocument::fromJson(r.body).isArray());
    QVERIFY(http.isConnected());

    // Connection: close ends it after the answer.
    http.write(requestHead("GET", "/healthz", port, "Connection: close\r\n"));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("Connection").toLower(), QByteArrayLiteral("close"));
    QVERIFY(http.waitDisconnected());

    // QNetworkAccessManager runs several requests over its pooled connections as well.
    for (int i = 0; i < 5; ++i)
        QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/ka"))).status, 200);
}

void TestRest::headRequest()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("h"), QStringLiteral("metric"), {{QStringLiteral("loss"), 1}, {QStringLiteral("acc"), 2}}))).size(), 1);

    for (const QString &path : {QStringLiteral("/"), QStringLiteral("/api/runs/h/metrics"), QStringLiteral("/api/runs/h/events")}) {
        const HttpResult g = get(m_nam, srv.http(path));
        const HttpResult h = httpCall(m_nam, QByteArrayLiteral("HEAD"), srv.http(path));
        QVERIFY2(h.finished, qPrintable(path));
        QCOMPARE(h.status, 200);
        QVERIFY(h.body.isEmpty());
        QCOMPARE(h.header("Content-Type"), g.header("Content-Type"));
        QCOMPARE(h.header("Content-Length"), QByteArray::number(g.body.size()));
    }
    const HttpResult missing = httpCall(m_nam, QByteArrayLiteral("HEAD"), srv.http(QStringLiteral("/api/runs/none")));
    QCOMPARE(missing.status, 404);
    QVERIFY(missing.body.isEmpty());

    // On one raw connection: no body bytes follow the HEAD answer, so the next answer parses.
    RawHttp http;
    QVERIFY(http.connectTo(srv.port()));
    http.write(requestHead("HEAD", "/api/runs/h/events", srv.port()) + requestHead("GET", "/api/runs/h/metrics", srv.port()));
    RawResponse r;
    QVERIFY(http.read(&r, true));
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Length").toLongLong() > 0);
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    QVERIFY2(QJsonDocument::fromJson(r.body).isArray(), r.body.constData());
    QVERIFY(http.pending().isEmpty());
}

void TestRest::chunkedPost()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const QByteArray body = json(QJsonArray{
        Test::event(QStringLiteral("chunky"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("first")}}),
        Test::event(QStringLiteral("chunky"), QStringLiteral("metric"), {{QStringLiteral("step"), 7}, {QStringLiteral("loss"), 0.25}}),
    });
    RawHttp http;
    QVERIFY(http.connectTo(srv.port()));
    http.write(requestHead("POST", "/api/events", srv.port(), "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"));
    // Three chunks of uneven size, one with a chunk extension, sent in separate writes.
    const int cuts[] = {0, 5, int(body.size()) / 2, int(body.size())};
    for (int i = 0; i < 3; ++i) {
        const QByteArray part = body.mid(cuts[i], cuts[i + 1] - cuts[i]);
        QByteArray chunk = QByteArray::number(part.size(), 16);
        if (i == 1)
            chunk += ";note=x";
        http.write(chunk + "\r\n" + part + "\r\n");
        QTest::qWait(20); // fixed on purpose: the chunks arrive apart, not in one read
    }
    http.write("0\r\n\r\n");
    RawResponse r;
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    const QJsonObject answer = QJsonDocument::fromJson(r.body).object();
    QCOMPARE(answer.value(QLatin1String("accepted")).toInt(), 2);
    QCOMPARE(answer.value(QLatin1String("seq")).toArray().size(), 2);

    // The connection stays usable after a chunked body.
    http.write(requestHead("GET", "/api/runs/chunky/events", srv.port()));
    QVERIFY(http.read(&r));
    QCOMPARE(r.status, 200);
    const QJsonArray events = QJsonDocument::fromJson(r.body).array();
    QCOMPARE(events.size(), 2);
    QCOMPARE(text(field(events.at(0).toObject(), "data").toObject(), "message"), QStringLiteral("first"));
    QCOMPARE(number(field(events.at(1).toObject(), "data").toObject(), "loss"), 0.25);
}

// Metric points in memory are bounded (config recentPointsBytes for the recent points, a summary per
// stored block of older ones) whatever is stored, and every point still reads back exactly, also
// after a restart.
void TestRest::metricMemoryIsBounded()
{
    QTemporaryDir dir;
    ServerConfig config;
    config.dataDir = dir.path();
    config.recentPointsBytes = 256 * 1024;
    config.maxEventsPerSecond = 0;
    config.maxBytesPerSecond = 0;
    constexpr int Points = 60000;
    constexpr int Runs = 150;      // many small series too: their tails go to the store under the budget
    constexpr int SmallPoints = 100;
    auto value = [](int i) { return i % 997 == 0 ? std::numeric_limits<double>::quiet_NaN() : std::sin(i / 100.0) * 1000 + i; };
    qint64 memory = 0, blocks = 0;
    {
        Test::TestServer srv(config);
        QVERIFY(srv.start());
        for (int from = 0; from < Points; from += 5000) {
            QJsonArray batch;
            for (int i = from; i < from + 5000; ++i) {
                QJsonObject data{{QStringLiteral("step"), i}};
                const double v = value(i);
                data.insert(QStringLiteral("loss"), std::isnan(v) ? QJsonValue(QStringLiteral("NaN")) : QJsonValue(v));
                batch.append(Test::event(QStringLiteral("big"), QStringLiteral("metric"), data));
            }
            QCOMPARE(publishHttp(m_nam, srv, json(batch)).size(), 5000);
        }
        for (int r = 0; r < Runs; ++r) {
            QJsonArray batch;
            for (int i = 0; i < SmallPoints; ++i)
                batch.append(Test::event(QStringLiteral("small-%1").arg(r), QStringLiteral("metric"),
                                         {{QStringLiteral("step"), i}, {QStringLiteral("acc"), r + i / 1000.0}}));
            QCOMPARE(publishHttp(m_nam, srv, json(batch)).size(), SmallPoints);
        }
        const Prometheus metrics = parsePrometheus(get(m_nam, srv.http(QStringLiteral("/metrics"))).body);
        memory = qint64(metrics.samples.value(QStringLiteral("runwatch_metric_points_memory_bytes"), -1));
        blocks = qint64(metrics.samples.value(QStringLiteral("runwatch_metric_point_blocks"), -1));
        const qint64 total = qint64(Points + Runs * SmallPoints);
        qInfo("%lld points: %lld bytes of metric points in memory, %lld blocks stored", total, memory, blocks);
        QVERIFY2(blocks >= Points / MetricHistory::BlockPoints, qPrintable(QString::number(blocks)));
        const qint64 bound = config.recentPointsBytes + blocks * 64 + (Runs + 1) * 256;
        QVERIFY2(memory > 0 && memory <= bound, qPrintable(QStringLiteral("%1 bytes held, bound %2").arg(memory).arg(bound)));
        QVERIFY2(memory < total * MetricHistory::BytesPerPoint / 4, qPrintable(QString::number(memory)));

        // Every point reads back, in order, from the store's blocks and the recent tail.
        const HttpResult all = get(m_nam, srv.http(QStringLiteral("/api/runs/big/metrics/loss")));
        QCOMPARE(all.status, 200);
        const QJsonArray points = all.object().value(QLatin1String("points")).toArray();
        QCOMPARE(points.size(), Points);
        for (int i = 0; i < Points; ++i) {
            const QJsonArray p = points.at(i).toArray();
            QCOMPARE(qint64(p.at(0).toDouble()), qint64(i));
            const double v = value(i);
            if (std::isnan(v))
                QCOMPARE(p.at(1).toString(), QStringLiteral("NaN"));
            else
                QVERIFY2(p.at(1).toDouble() == v, qPrintable(QStringLiteral("point %1").arg(i)));
        }
        const HttpResult small = get(m_nam, srv.http(QStringLiteral("/api/runs/small-7/metrics/acc")));
        QCOMPARE(small.object().value(QLatin1String("points")).toArray().size(), SmallPoints);
        // Thinned: both ends kept.
        const QJsonArray thin = get(m_nam, srv.http(QStringLiteral("/api/runs/big/metrics/loss?max_points=200"))).object().value(QLatin1String("points")).toArray();
        QVERIFY(thin.size() <= 200 && thin.size() > 100);
        QCOMPARE(qint64(thin.first().toArray().at(0).toDouble()), qint64(0));
        QCOMPARE(qint64(thin.last().toArray().at(0).toDouble()), qint64(Points - 1));
        srv.stop();
    }
    // After a clean stop (snapshot), memory holds no more than before and every point is there.
    Test::TestServer again(config);
    QVERIFY(again.start());
    const Prometheus metrics = parsePrometheus(get(m_nam, again.http(QStringLiteral("/metrics"))).body);
    const qint64 after = qint64(metrics.samples.value(QStringLiteral("runwatch_metric_points_memory_bytes"), -1));
    QVERIFY2(after > 0 && after <= memory, qPrintable(QStringLiteral("%1 after the restart, %2 before").arg(after).arg(memory)));
    const HttpResult all = get(m_nam, again.http(QStringLiteral("/api/runs/big/metrics/loss")));
    QCOMPARE(all.object().value(QLatin1String("points")).toArray().size(), Points);
    QCOMPARE(qint64(all.object().value(QLatin1String("points")).toArray().last().toArray().at(0).toDouble()), qint64(Points - 1));
    const QByteArray csv = get(m_nam, again.http(QStringLiteral("/api/runs/small-3/metrics?format=csv"))).body;
    QCOMPARE(csv.count('\n'), SmallPoints + 1);
}

void TestRest::hostHeaderGuard_data()
{
    QTest::addColumn<QByteArray>("host");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("evil.example") << QByteArrayLiteral("evil.example") << false;
    QTest::newRow("evil.example:PORT") << QByteArrayLiteral("evil.example:PORT") << false;
    QTest::newRow("rebinding look-alike") << QByteArrayLiteral("127.0.0.1.evil.example:PORT") << false;
    QTest::newRow("localhost.evil.example") << QByteArrayLiteral("localhost.evil.example") << false;
    QTest::newRow("localhost:PORT") << QByteArrayLiteral("localhost:PORT") << true;
    QTest::newRow("localhost") << QByteArrayLiteral("localhost") << true;
    QTest::newRow("127.0.0.1:PORT") << QByteArrayLiteral("127.0.0.1:PORT") << true;
    QTest::newRow("[::1]:PORT") << QByteArrayLiteral("[::1]:PORT") << true;
}

void TestRest::hostHeaderGuard()
{
    QFETCH(QByteArray, host);
    QFETCH(bool, allowed);
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("secret-run"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}))).size(), 1);
    host.replace("PORT", QByteArray::number(srv.port()));

    RawHttp http;
    QVERIFY(http.connectTo(srv.port()));
    http.write("GET /api/runs HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    RawResponse r;
    QVERIFY(http.read(&r));
    if (allowed) {
        QCOMPARE(r.status, 200);
        QVERIFY(r.body.contains("secret-run"));
    } else {
        QVERIFY2(r.status >= 400 && r.status < 500, qPrintable(QString::number(r.status)));
        QVERIFY2(!r.body.contains("secret-run"), r.body.constData());
    }

    // A POST with a foreign Host must not be stored either.
    if (!allowed) {
        RawHttp poster;
        QVERIFY(poster.connectTo(srv.port()));
        const QByteArray body = json(Test::event(QStringLiteral("injected"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}}));
        poster.write("POST /api/events HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: "
                     + QByteArray::number(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
        QVERIFY(poster.read(&r));
        QVERIFY2(r.status >= 400 && r.status < 500, qPrintable(QString::number(r.status)));
        QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/injected"))).status, 404);
    }
}

void TestRest::hostHeaderGuardWebSocket()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    RawHttp http;
    QVERIFY(http.connectTo(srv.port()));
    http.write("GET /ws HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    RawResponse r;
    QVERIFY(http.read(&r));
    QVERIFY2(r.status != 101, "a WebSocket upgrade with a foreign Host was accepted");
    QVERIFY2(r.status >= 400 && r.status < 500, qPrintable(QString::number(r.status)));

    // The same handshake with a loopback Host is accepted.
    RawHttp good;
    QVERIFY(good.connectTo(srv.port()));
    good.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + QByteArray::number(srv.port()) + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    QVERIFY(good.read(&r, true));
    QCOMPARE(r.status, 101);
}

QTEST_MAIN(TestRest)
#include "tst_rest.moc"

// {"run": "x", "type": "run_completed"} says all there is to say: accepted as data {}.
void TestRest::eventWithoutData()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const HttpResult r = post(m_nam, srv.http(QStringLiteral("/api/events")),
                         R"([{"run":"nodata","type":"run_started"},{"run":"nodata","type":"run_completed","data":null},)"
                         R"({"run":"nodata","type":"checkpoint_saved"}])");
    QCOMPARE(r.status, 200);
    QCOMPARE(number(r.object(), "accepted"), 3.0);
    const HttpResult events = get(m_nam, srv.http(QStringLiteral("/api/runs/nodata/events")));
    QCOMPARE(events.array().size(), 3);
    for (const QJsonValue &e : events.array()) {
        QVERIFY2(field(e.toObject(), "data").isObject(), events.body.constData());
        QCOMPARE(field(e.toObject(), "data").toObject().size(), 0);
    }
    QCOMPARE(text(get(m_nam, srv.http(QStringLiteral("/api/runs/nodata"))).object(), "status"), QStringLiteral("completed"));
    // data that is there must still be an object.
    QCOMPARE(post(m_nam, srv.http(QStringLiteral("/api/events")), R"({"run":"nodata","type":"log","data":5})").status, 400);
}

// A type the server does not know is stored as a custom event, but one that looks like a known type
// gets a warning in the answer; deliberate custom types get none.
void TestRest::mistypedTypeWarns()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const HttpResult r = post(m_nam, srv.http(QStringLiteral("/api/events")),
                         R"([{"run":"w","type":"metric","data":{"loss":1}},{"run":"w","type":"metrics","data":{"loss":2}},)"
                         R"({"run":"w","type":"quality_check","data":{"score":0.9}},{"run":"w","type":"run_complete"}])");
    QCOMPARE(r.status, 200);
    QCOMPARE(number(r.object(), "accepted"), 4.0);
    const QJsonArray warnings = field(r.object(), "warnings").toArray();
    QCOMPARE(warnings.size(), 2);
    QCOMPARE(number(warnings.at(0).toObject(), "index"), 1.0);
    QCOMPARE(text(warnings.at(0).toObject(), "code"), QStringLiteral("UNKNOWN_TYPE"));
    QVERIFY2(text(warnings.at(0).toObject(), "message").contains(QStringLiteral("did you mean \"metric\"")),
             qPrintable(text(warnings.at(0).toObject(), "message")));
    QCOMPARE(number(warnings.at(1).toObject(), "index"), 3.0);
    QVERIFY(text(warnings.at(1).toObject(), "message").contains(QStringLiteral("\"run_completed\"")));
    // Stored as sent: the mistyped event is a custom one, not a metric point.
    const HttpResult events = get(m_nam, srv.http(QStringLiteral("/api/runs/w/events")));
    QCOMPARE(text(events.array().at(1).toObject(), "type"), QStringLiteral("metrics"));
    QCOMPARE(number(get(m_nam, srv.http(QStringLiteral("/api/runs/w/metrics/loss"))).object(), "total"), 1.0);
    // Nothing to warn about: no warnings field at all.
    const HttpResult clean = post(m_nam, srv.http(QStringLiteral("/api/events")), R"({"run":"w","type":"agent_spawned","data":{}})");
    QCOMPARE(clean.status, 200);
    QVERIFY(!clean.object().contains(QStringLiteral("warnings")));
}

// A run that reported 320,000 of 1,000,000 and then finished shows 32 % and that it stopped early.
void TestRest::progressStaysTrue()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, R"([{"run":"p","type":"run_started","data":{"total_steps":1000000}},)"
                                     R"({"run":"p","type":"progress","data":{"completed":320000,"total":1000000}},)"
                                     R"({"run":"p","type":"run_completed"},)"
                                     R"({"run":"q","type":"progress","data":{"completed":10,"total":10}},)"
                                     R"({"run":"q","type":"run_completed"}])").size(), 5);
    const QJsonObject p = findById(get(m_nam, srv.http(QStringLiteral("/api/runs"))).array(), QStringLiteral("p"));
    QCOMPARE(text(p, "status"), QStringLiteral("completed"));
    QCOMPARE(number(p, "progress"), 0.32);
    QCOMPARE(number(p, "completed"), 320000.0);
    QCOMPARE(field(p, "stopped_early").toBool(), true);
    const QJsonObject q = get(m_nam, srv.http(QStringLiteral("/api/runs/q"))).object();
    QCOMPARE(number(q, "progress"), 1.0);
    QCOMPARE(field(q, "stopped_early").toBool(), false);
}

// GET /api/runs/{run}/metrics?format=csv: one row per step, a column per metric, and the time.
void TestRest::metricsAsOneTableCsv()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QJsonArray events;
    for (int step = 1; step <= 4; ++step) {
        events.append(Test::event(QStringLiteral("t"), QStringLiteral("metric"), {{QStringLiteral("step"), step}, {QStringLiteral("loss"), 1.0 / step}}));
        if (step % 2 == 0) // eval every other step, in an event of its own
            events.append(Test::event(QStringLiteral("t"), QStringLiteral("metric"), {{QStringLiteral("step"), step}, {QStringLiteral("eval_loss"), 2.0 / step}}));
    }
    events.append(Test::event(QStringLiteral("t"), QStringLiteral("metric"), {{QStringLiteral("step"), 5}, {QStringLiteral("loss"), QStringLiteral("NaN")}}));
    QCOMPARE(publishHttp(m_nam, srv, json(events)).size(), events.size());

    const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/t/metrics?format=csv")));
    QCOMPARE(r.status, 200);
    QVERIFY(r.header("Content-Type").startsWith("text/csv"));
    const QList<QByteArray> lines = r.body.trimmed().split('\n');
    QCOMPARE(lines.first(), QByteArray("step,time,eval_loss,loss"));
    QCOMPARE(lines.size(), 1 + 5); // five steps, not seven metric events
    static const QRegularExpression row(QStringLiteral("^(\\d+),(\\d{4}-\\d\\d-\\d\\dT[^,]+Z),([^,]*),([^,]*)$"));
    QStringList cells;
    for (int i = 1; i < lines.size(); ++i) {
        const QRegularExpressionMatch m = row.match(QString::fromUtf8(lines.at(i)));
        QVERIFY2(m.hasMatch(), lines.at(i).constData());
        QCOMPARE(m.captured(1).toInt(), i);
        cells.append(m.captured(3) + QLatin1Char('|') + m.captured(4));
    }
    QCOMPARE(cells, (QStringList{QStringLiteral("|1"), QStringLiteral("1|0.5"), QStringLiteral("|0.3333333333333333"),
                                 QStringLiteral("0.5|0.25"), QStringLiteral("|NaN")}));
    // Only the columns asked for; an unknown one is a 404.
    const HttpResult one = get(m_nam, srv.http(QStringLiteral("/api/runs/t/metrics?format=csv&names=eval_loss")));
    QCOMPARE(one.body.trimmed().split('\n').size(), 1 + 2);
    QCOMPARE(one.body.left(one.body.indexOf('\n')), QByteArray("step,time,eval_loss"));
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/t/metrics?format=csv&names=nope"))).status, 404);
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/t/metrics?format=xml"))).status, 400);
    // Without format, still the names.
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/t/metrics"))).array(), (QJsonArray{QStringLiteral("eval_loss"), QStringLiteral("loss")}));

    // A name a spreadsheet would run as a formula stays text.
    QCOMPARE(publishHttp(m_nam, srv, R"j({"run":"f","type":"metric","data":{"step":1,"=HYPERLINK(1)":2,"@x":3,"ok":4}})j").size(), 1);
    const QByteArray header = get(m_nam, srv.http(QStringLiteral("/api/runs/f/metrics?format=csv"))).body.split('\n').first();
    QCOMPARE(header, QByteArray("step,time,'=HYPERLINK(1),'@x,ok"));
}

// {"train": {"loss": 1.0}}, as W&B users write it, is the metric "train/loss".
void TestRest::nestedMetricsAreFlattened()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QCOMPARE(publishHttp(m_nam, srv, R"([{"run":"n","type":"metric","data":{"step":1,"train":{"loss":1.5,"acc":0.5},"eval":{"loss":2}}},)"
                                     R"({"run":"n","type":"metric","data":{"step":2,"train":{"loss":"NaN","opt":{"lr":0.001}}}}])").size(), 2);
    const HttpResult names = get(m_nam, srv.http(QStringLiteral("/api/runs/n/metrics")));
    QCOMPARE(names.array(), (QJsonArray{QStringLiteral("eval/loss"), QStringLiteral("train/acc"), QStringLiteral("train/loss"),
                                        QStringLiteral("train/opt/lr")}));
    const HttpResult series = get(m_nam, srv.http(QStringLiteral("/api/runs/n/metrics/train/loss")));
    QCOMPARE(series.status, 200);
    QCOMPARE(field(series.object(), "points").toArray(),
             (QJsonArray{QJsonArray{1, 1.5, field(series.object(), "points").toArray().at(0).toArray().at(2)},
                         QJsonArray{2, QStringLiteral("NaN"), field(series.object(), "points").toArray().at(1).toArray().at(2)}}));
    const QJsonObject latest = field(get(m_nam, srv.http(QStringLiteral("/api/runs/n"))).object(), "metrics").toObject();
    QCOMPARE(latest.value(QStringLiteral("train/opt/lr")).toDouble(), 0.001);
    // A nested value that is not a number is refused like a flat one, naming where it is.
    const HttpResult bad = post(m_nam, srv.http(QStringLiteral("/api/events")), R"({"run":"n","type":"metric","data":{"train":{"loss":"high"}}})");
    QCOMPARE(bad.status, 400);
    QVERIFY2(bad.errorMessage().contains(QStringLiteral("train.loss")), qPrintable(bad.errorMessage()));
}

// Valid JSON numbers that no double holds: 1e400 is a diverging value (Infinity), 1e-400 is 0; the
// publish is not refused for them.
void TestRest::outOfRangeNumbers()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    const HttpResult r = post(m_nam, srv.http(QStringLiteral("/api/events")),
                         R"([{"run":"o","type":"metric","data":{"step":1,"loss":1e400,"grad":-2.5E+999,"lr":1e-400}},)"
                         R"({"run":"o","type":"log","data":{"message":"ok"}}])");
    QCOMPARE(r.status, 200);
    QCOMPARE(number(r.object(), "accepted"), 2.0);
    const QJsonObject latest = field(get(m_nam, srv.http(QStringLiteral("/api/runs/o"))).object(), "metrics").toObject();
    QCOMPARE(latest.value(QStringLiteral("loss")).toString(), QStringLiteral("Infinity"));
    QCOMPARE(latest.value(QStringLiteral("grad")).toString(), QStringLiteral("-Infinity"));
    QCOMPARE(latest.value(QStringLiteral("lr")).toDouble(-1), 0.0);
    // Where a number must be finite, the field is named.
    const HttpResult bad = post(m_nam, srv.http(QStringLiteral("/api/events")), R"({"run":"o","type":"progress","data":{"completed":1e400}})");
    QCOMPARE(bad.status, 400);
    QVERIFY2(bad.errorMessage().contains(QStringLiteral("data.completed")), qPrintable(bad.errorMessage()));
}

// Step ids are bounded per run like metric names, and a run's detail carries at most 1,000 of them;
// the rest come page by page.
void TestRest::stepsArePagedAndBounded()
{
    ServerConfig config;
    config.maxStepsPerRun = 2500;
    Test::TestServer srv(config);
    QVERIFY(srv.start());
    QJsonArray events;
    for (int i = 0; i < 2500; ++i)
        events.append(Test::event(QStringLiteral("s"), QStringLiteral("step_started"), {}, QStringLiteral("step-%1").arg(i)));
    QCOMPARE(publishHttp(m_nam, srv, json(events)).size(), 2500);
    // Known steps may go on; one more is refused, naming the flag.
    QCOMPARE(publishHttp(m_nam, srv, json(QJsonArray{Test::event(QStringLiteral("s"), QStringLiteral("step_completed"), {}, QStringLiteral("step-7"))})).size(), 1);
    const HttpResult refused = post(m_nam, srv.http(QStringLiteral("/api/events")),
                               json(Test::event(QStringLiteral("s"), QStringLiteral("step_started"), {}, QStringLiteral("one-more"))));
    QCOMPARE(refused.status, 413);
    QCOMPARE(refused.errorCode(), QStringLiteral("TOO_LARGE"));
    QVERIFY(refused.errorMessage().contains(QStringLiteral("--max-steps-per-run")));

    const QJsonObject detail = get(m_nam, srv.http(QStringLiteral("/api/runs/s"))).object();
    QCOMPARE(field(detail, "steps").toArray().size(), 1000);
    QCOMPARE(field(detail, "steps_truncated").toBool(), true);
    QCOMPARE(number(field(detail, "step_counts").toObject(), "total"), 2500.0);
    QCOMPARE(text(field(detail, "steps").toArray().at(7).toObject(), "status"), QStringLiteral("completed"));
    // Page through all of them: every step once, in order.
    QStringList ids;
    for (int offset = 0;; offset += 1000) {
        const HttpResult page = get(m_nam, srv.http(QStringLiteral("/api/runs/s/steps?offset=%1&limit=1000").arg(offset)));
        QCOMPARE(page.status, 200);
        QCOMPARE(number(page.object(), "total"), 2500.0);
        const QJsonArray steps = field(page.object(), "steps").toArray();
        for (const QJsonValue &step : steps)
            ids.append(text(step.toObject(), "id"));
        if (steps.size() < 1000)
            break;
    }
    QCOMPARE(ids.size(), 2500);
    QCOMPARE(ids.first(), QStringLiteral("step-0"));
    QCOMPARE(ids.last(), QStringLiteral("step-2499"));
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/s/steps?offset=x"))).status, 400);
    QCOMPARE(get(m_nam, srv.http(QStringLiteral("/api/runs/nope/steps"))).status, 404);
}

// A progress event may carry any other numbers, but a run keeps at most 100 of them.
void TestRest::progressKeysAreBounded()
{
    Test::TestServer srv;
    QVERIFY(srv.start());
    QJsonObject data{{QStringLiteral("completed"), 1}, {QStringLiteral("total"), 10}};
    for (int i = 0; i < 5000; ++i)
        data.insert(QStringLiteral("extra_%1").arg(i), i);
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("k"), QStringLiteral("progress"), data))).size(), 1);
    QJsonObject later{{QStringLiteral("completed"), 2}, {QStringLiteral("extra_0"), -1}, {QStringLiteral("another"), 7}};
    QCOMPARE(publishHttp(m_nam, srv, json(Test::event(QStringLiteral("k"), QStringLiteral("progress"), later))).size(), 1);
    const HttpResult r = get(m_nam, srv.http(QStringLiteral("/api/runs/k")));
    const QJsonObject extra = field(r.object(), "progress_extra").toObject();
    QCOMPARE(extra.size(), 100);
    QCOMPARE(extra.value(QStringLiteral("extra_0")).toDouble(), -1.0); // known keys are still updated
    QVERIFY(!extra.contains(QStringLiteral("another")));
    QVERIFY2(r.body.size() < 20000, qPrintable(QString::number(r.body.size())));
    QCOMPARE(number(r.object(), "progress"), 0.2);
}
