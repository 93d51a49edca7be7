// Integration tests of auth and roles (shared/design/protocol.md "Auth and roles", and the role
// decisions in the test brief): real QWebSocket clients and QNetworkAccessManager against a real
// Server on 127.0.0.1, port 0.

#include "testsupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>

#include <memory>

using namespace Runwatch;

namespace {

const QLatin1String kType("type");
const QLatin1String kSeq("seq");
const QLatin1String kRun("run");
const QLatin1String kId("id");
const QLatin1String kCode("code");

const QByteArray AdminToken = QByteArrayLiteral("admin-secret-1");
const QByteArray ViewerToken = QByteArrayLiteral("viewer-secret-2");
const QByteArray WrongToken = QByteArrayLiteral("not-a-token-3");

using Probe = Test::WsProbe;
using ProbePtr = std::unique_ptr<Probe>;
using Test::answerTo;
using Test::HttpResult;
using Test::httpCall;
using Test::nextId;
using Test::ofType;
using Test::openProbe;
using Test::publishAcked;
using Test::seqList;
using Test::sync;
using Test::waitAnswer;

ServerConfig tokenConfig()
{
    ServerConfig config;
    config.token = QString::fromLatin1(AdminToken);
    config.viewerToken = QString::fromLatin1(ViewerToken);
    return config;
}

QUrl withQuery(QUrl url, const QString &key, const QString &value)
{
    QUrlQuery query(url);
    query.addQueryItem(key, value);
    url.setQuery(query);
    return url;
}

QString describe(const QJsonObject &object)
{
    return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

// Sends an op with a fresh id and returns the answer that carries the id.
QJsonObject request(Probe &probe, QJsonObject op)
{
    const QString id = nextId();
    op.insert(QStringLiteral("id"), id);
    probe.send(op);
    return waitAnswer(probe, id);
}

// The subscribe op: the contract's answer is {"type":"subscribed",...} (no id is promised in it),
// or an error frame (which carries the id). Returns whichever comes first.
QJsonObject subscribe(Probe &probe, const QString &run)
{
    const QString id = nextId();
    const int before = int(ofType(probe, QStringLiteral("subscribed")).size());
    probe.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("run"), run}, {QStringLiteral("id"), id}});
    QJsonObject found;
    (void)QTest::qWaitFor(
        [&] {
            const QVector<QJsonObject> subscribed = ofType(probe, QStringLiteral("subscribed"));
            found = subscribed.size() > before ? subscribed.at(before) : answerTo(probe, id);
            return !found.isEmpty();
        },
        10000);
    return found;
}

QJsonObject publishOp(const QString &run, int count = 1)
{
    QJsonArray events;
    for (int i = 0; i < count; ++i)
        events.append(Test::event(run, QStringLiteral("metric"), {{QStringLiteral("step"), i}, {QStringLiteral("loss"), 0.5}}));
    return Test::publishOp(events);
}

QJsonObject lifecycleOp(const QString &run)
{
    return Test::publishOp(QJsonArray{Test::event(run, QStringLiteral("run_started"),
                                                  {{QStringLiteral("name"), run}, {QStringLiteral("kind"), QStringLiteral("training")}})});
}

QJsonObject authFrame(const QJsonValue &token)
{
    return QJsonObject{{QStringLiteral("op"), QStringLiteral("auth")}, {QStringLiteral("token"), token}};
}

QByteArray eventBody(const QString &run)
{
    return QJsonDocument(Test::event(run, QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("hello")}}))
        .toJson(QJsonDocument::Compact);
}

} // namespace

class TestAuth : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void wsConnect_data();
    void wsConnect();
    void wsWithoutTokenUntilAuthOp();
    void authOp_data();
    void authOp();
    void viewerReadsButDoesNotPublish();
    void openLoopbackServer();
    void http_data();
    void http();
};

void TestAuth::wsConnect_data()
{
    // via: how the token is given ("header", "query" or "none"). closeCode 0: the connection stays
    // open and the role's rights are checked; otherwise the error code and close code expected.
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("via");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QString>("role");
    QTest::addColumn<QString>("errorCode");
    QTest::addColumn<int>("closeCode");

    const QString ws = QStringLiteral("/ws");
    const QString runs = QStringLiteral("/ws/runs");
    const QString run = QStringLiteral("/ws/runs/r");
    const QString header = QStringLiteral("header");
    const QString query = QStringLiteral("query");
    const QString none = QStringLiteral("none");
    const QString admin = QStringLiteral("admin");
    const QString viewer = QStringLiteral("viewer");
    const QString failed = QStringLiteral("AUTH_FAILED");
    const QString required = QStringLiteral("AUTH_REQUIRED");

    QTest::newRow("/ws admin header") << ws << header << AdminToken << admin << QString() << 0;
    QTest::newRow("/ws admin query") << ws << query << AdminToken << admin << QString() << 0;
    QTest::newRow("/ws viewer header") << ws << header << ViewerToken << viewer << QString() << 0;
    QTest::newRow("/ws viewer query") << ws << query << ViewerToken << viewer << QString() << 0;
    QTest::newRow("/ws no token") << ws << none << QByteArray() << none << QString() << 0;
    QTest::newRow("/ws wrong header") << ws << header << WrongToken << QString() << failed << 4401;
    QTest::newRow("/ws wrong query") << ws << query << WrongToken << QString() << failed << 4401;

    QTest::newRow("/ws/runs admin header") << runs << header << AdminToken << admin << QString() << 0;
    QTest::newRow("/ws/runs viewer query") << runs << query << ViewerToken << viewer << QString() << 0;
    QTest::newRow("/ws/runs no token") << runs << none << QByteArray() << QString() << required << 4401;
    QTest::newRow("/ws/runs wrong header") << runs << header << WrongToken << QString() << failed << 4401;
    QTest::newRow("/ws/runs wrong query") << runs << query << WrongToken << QString() << failed << 4401;

    QTest::newRow("/ws/runs/r admin query") << run << query << AdminToken << admin << QString() << 0;
    QTest::newRow("/ws/runs/r viewer header") << run << header << ViewerToken << viewer << QString() << 0;
    QTest::newRow("/ws/runs/r viewer query") << run << query << ViewerToken << viewer << QString() << 0;
    QTest::newRow("/ws/runs/r no token") << run << none << QByteArray() << QString() << required << 4401;
    QTest::newRow("/ws/runs/r wrong header") << run << header << WrongToken << QString() << failed << 4401;
    QTest::newRow("/ws/runs/r wrong query") << run << query << WrongToken << QString() << failed << 4401;
}

void TestAuth::wsConnect()
{
    QFETCH(QString, path);
    QFETCH(QString, via);
    QFETCH(QByteArray, token);
    QFETCH(QString, role);
    QFETCH(QString, errorCode);
    QFETCH(int, closeCode);

    Test::TestServer srv(tokenConfig());
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")), AdminToken);
    QVERIFY(producer->waitConnected());
    // Some history, so that a refused client would have had something to receive.
    QCOMPARE(request(*producer, lifecycleOp(QStringLiteral("r"))).value(kType).toString(), QStringLiteral("ack"));

    QUrl url = srv.ws(path);
    QByteArray bearer;
    if (via == QLatin1String("query"))
        url = withQuery(url, QStringLiteral("token"), QString::fromLatin1(token));
    else if (via == QLatin1String("header"))
        bearer = token;
    ProbePtr probe = openProbe(url, bearer);

    if (closeCode != 0) {
        QVERIFY2(probe->waitClosed(10000), "the server must close this connection");
        QCOMPARE(probe->closeCode(), closeCode);
        const QVector<QJsonObject> errors = ofType(*probe, QStringLiteral("error"));
        QCOMPARE(errors.size(), 1);
        QCOMPARE(errors.first().value(kCode).toString(), errorCode);
        QVERIFY(!errors.first().value(QStringLiteral("message")).toString().isEmpty());
        QCOMPARE(probe->events().size(), 0);
        return;
    }

    QVERIFY(probe->waitConnected());
    QVERIFY(!probe->waitMessage(QStringLiteral("welcome")).isEmpty());
    const bool onWs = path == QLatin1String("/ws");

    // Reading.
    if (onWs) {
        const QJsonObject answer = subscribe(*probe, QStringLiteral("r"));
        if (role == QLatin1String("none")) {
            QCOMPARE(answer.value(kType).toString(), QStringLiteral("error"));
            QCOMPARE(answer.value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));
        } else {
            QVERIFY2(answer.value(kType).toString() == QLatin1String("subscribed"), qPrintable(describe(answer)));
        }
    }
    const int historyEvents = role == QLatin1String("none") ? 0 : 1;
    QVERIFY(sync(*probe));
    QCOMPARE(int(probe->events().size()), historyEvents);
    QCOMPARE(request(*producer, lifecycleOp(QStringLiteral("r"))).value(kType).toString(), QStringLiteral("ack"));
    if (role != QLatin1String("none"))
        QVERIFY(probe->waitEvents(2));
    QVERIFY(sync(*probe));
    QCOMPARE(int(probe->events().size()), historyEvents == 0 ? 0 : 2);

    // Publishing.
    QJsonObject op = publishOp(QStringLiteral("r"));
    const QJsonObject answer = request(*probe, op);
    if (role == QLatin1String("admin")) {
        QVERIFY2(answer.value(kType).toString() == QLatin1String("ack"), qPrintable(describe(answer)));
        QCOMPARE(answer.value(kSeq).toArray().size(), 1);
    } else {
        QCOMPARE(answer.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(answer.value(kCode).toString(),
                 role == QLatin1String("viewer") ? QStringLiteral("FORBIDDEN") : QStringLiteral("AUTH_REQUIRED"));
    }
    QVERIFY(sync(*probe));
    QVERIFY(probe->isConnected());
}

void TestAuth::wsWithoutTokenUntilAuthOp()
{
    Test::TestServer srv(tokenConfig());
    QVERIFY(srv.start());
    ProbePtr probe = openProbe(srv.ws(QStringLiteral("/ws")));
    QVERIFY(probe->waitConnected());
    QVERIFY(!probe->waitMessage(QStringLiteral("welcome")).isEmpty());

    // Open, but nothing is allowed before auth; each refusal leaves the connection usable.
    for (const QString &run : {QStringLiteral("r"), QStringLiteral("*")}) {
        const QJsonObject refused = subscribe(*probe, run);
        QCOMPARE(refused.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(refused.value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));
    }
    const QJsonObject refusedPublish = request(*probe, publishOp(QStringLiteral("r")));
    QCOMPARE(refusedPublish.value(kType).toString(), QStringLiteral("error"));
    QCOMPARE(refusedPublish.value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));
    QVERIFY(sync(*probe));
    QVERIFY(probe->isConnected());

    // A wrong token: AUTH_FAILED, still open, still nothing allowed.
    const QJsonObject wrong = request(*probe, authFrame(QString::fromLatin1(WrongToken)));
    QCOMPARE(wrong.value(kType).toString(), QStringLiteral("error"));
    QCOMPARE(wrong.value(kCode).toString(), QStringLiteral("AUTH_FAILED"));
    QVERIFY(sync(*probe));
    QVERIFY(probe->isConnected());
    QCOMPARE(subscribe(*probe, QStringLiteral("r")).value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));

    // The auth op with the admin token unlocks everything.
    const QJsonObject ok = request(*probe, authFrame(QString::fromLatin1(AdminToken)));
    QCOMPARE(ok.value(kType).toString(), QStringLiteral("auth_ok"));
    QCOMPARE(ok.value(QStringLiteral("role")).toString(), QStringLiteral("admin"));
    const QJsonObject subscribed = subscribe(*probe, QStringLiteral("r"));
    QVERIFY2(subscribed.value(kType).toString() == QLatin1String("subscribed"), qPrintable(describe(subscribed)));
    const QJsonObject ack = request(*probe, publishOp(QStringLiteral("r"), 2));
    QVERIFY2(ack.value(kType).toString() == QLatin1String("ack"), qPrintable(describe(ack)));
    QCOMPARE(ack.value(kSeq).toArray().size(), 2);
    QVERIFY(probe->waitEvents(2));
    QCOMPARE(probe->events().first().value(kRun).toString(), QStringLiteral("r"));
}

void TestAuth::authOp_data()
{
    // start: token given when connecting to /ws (header); then the auth op with `token`.
    QTest::addColumn<QByteArray>("start");
    QTest::addColumn<QJsonValue>("token");
    QTest::addColumn<QString>("answer");   // auth_ok or the error code
    QTest::addColumn<QString>("role");     // the role afterwards: admin, viewer, none
    QTest::newRow("none -> admin") << QByteArray() << QJsonValue(QString::fromLatin1(AdminToken)) << QStringLiteral("auth_ok") << QStringLiteral("admin");
    QTest::newRow("none -> viewer") << QByteArray() << QJsonValue(QString::fromLatin1(ViewerToken)) << QStringLiteral("auth_ok") << QStringLiteral("viewer");
    QTest::newRow("none -> wrong") << QByteArray() << QJsonValue(QString::fromLatin1(WrongToken)) << QStringLiteral("AUTH_FAILED") << QStringLiteral("none");
    QTest::newRow("none -> empty") << QByteArray() << QJsonValue(QString()) << QStringLiteral("AUTH_FAILED") << QStringLiteral("none");
    QTest::newRow("none -> number") << QByteArray() << QJsonValue(12345) << QStringLiteral("AUTH_FAILED") << QStringLiteral("none");
    QTest::newRow("viewer -> admin") << ViewerToken << QJsonValue(QString::fromLatin1(AdminToken)) << QStringLiteral("auth_ok") << QStringLiteral("admin");
    QTest::newRow("viewer -> wrong") << ViewerToken << QJsonValue(QString::fromLatin1(WrongToken)) << QStringLiteral("AUTH_FAILED") << QStringLiteral("viewer");
}

void TestAuth::authOp()
{
    QFETCH(QByteArray, start);
    QFETCH(QJsonValue, token);
    QFETCH(QString, answer);
    QFETCH(QString, role);

    Test::TestServer srv(tokenConfig());
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")), AdminToken);
    QVERIFY(producer->waitConnected());
    ProbePtr probe = openProbe(srv.ws(QStringLiteral("/ws")), start);
    QVERIFY(probe->waitConnected());
    QVERIFY(!probe->waitMessage(QStringLiteral("welcome")).isEmpty());

    const QJsonObject reply = request(*probe, authFrame(token));
    if (answer == QLatin1String("auth_ok")) {
        QCOMPARE(reply.value(kType).toString(), QStringLiteral("auth_ok"));
        QCOMPARE(reply.value(QStringLiteral("role")).toString(), role);
    } else {
        QCOMPARE(reply.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(reply.value(kCode).toString(), answer);
    }
    QVERIFY(sync(*probe));
    QVERIFY2(probe->isConnected(), "a failed auth op is an error frame, not a close");

    const QJsonObject sub = subscribe(*probe, QStringLiteral("a"));
    const QJsonObject pub = request(*probe, publishOp(QStringLiteral("a")));
    if (role == QLatin1String("none")) {
        QCOMPARE(sub.value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));
        QCOMPARE(pub.value(kCode).toString(), QStringLiteral("AUTH_REQUIRED"));
    } else if (role == QLatin1String("viewer")) {
        QCOMPARE(sub.value(kType).toString(), QStringLiteral("subscribed"));
        QCOMPARE(pub.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(pub.value(kCode).toString(), QStringLiteral("FORBIDDEN"));
    } else {
        QCOMPARE(sub.value(kType).toString(), QStringLiteral("subscribed"));
        QVERIFY2(pub.value(kType).toString() == QLatin1String("ack"), qPrintable(describe(pub)));
    }
    // Readers get what the producer publishes.
    QCOMPARE(request(*producer, publishOp(QStringLiteral("a"), 3)).value(kType).toString(), QStringLiteral("ack"));
    const int expected = role == QLatin1String("none") ? 0 : (role == QLatin1String("admin") ? 4 : 3);
    if (expected > 0)
        QVERIFY(probe->waitEvents(expected));
    QVERIFY(sync(*probe));
    QCOMPARE(int(probe->events().size()), expected);
    QVERIFY(probe->isConnected());
}

void TestAuth::viewerReadsButDoesNotPublish()
{
    Test::TestServer srv(tokenConfig());
    QVERIFY(srv.start());
    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")), AdminToken);
    QVERIFY(producer->waitConnected());
    const QJsonObject first = request(*producer, publishOp(QStringLiteral("v"), 4));
    QCOMPARE(first.value(kType).toString(), QStringLiteral("ack"));

    ProbePtr viewer = openProbe(withQuery(srv.ws(QStringLiteral("/ws")), QStringLiteral("token"), QString::fromLatin1(ViewerToken)));
    QVERIFY(viewer->waitConnected());
    QCOMPARE(subscribe(*viewer, QStringLiteral("*")).value(kType).toString(), QStringLiteral("subscribed"));
    QVERIFY(viewer->waitEvents(4));

    // Every form of publish is refused, and nothing of it is stored or delivered.
    const QList<QJsonObject> attempts{
        publishOp(QStringLiteral("v"), 2),
        QJsonObject{{QStringLiteral("op"), QStringLiteral("publish")},
                    {QStringLiteral("event"), Test::event(QStringLiteral("v"), QStringLiteral("log"), {{QStringLiteral("message"), QStringLiteral("x")}})}},
        lifecycleOp(QStringLiteral("viewer-run")),
    };
    for (const QJsonObject &attempt : attempts) {
        const QJsonObject answer = request(*viewer, attempt);
        QCOMPARE(answer.value(kType).toString(), QStringLiteral("error"));
        QCOMPARE(answer.value(kCode).toString(), QStringLiteral("FORBIDDEN"));
    }
    const QJsonObject second = request(*producer, publishOp(QStringLiteral("v"), 1));
    QCOMPARE(second.value(kType).toString(), QStringLiteral("ack"));
    QVERIFY(viewer->waitEvents(5));
    QVERIFY(sync(*viewer));
    QCOMPARE(viewer->events().size(), 5);
    QCOMPARE(qint64(viewer->events().last().value(kSeq).toDouble()), qint64(second.value(kSeq).toArray().first().toDouble()));

    // The viewer reads through REST too, and sees only the producer's events.
    QNetworkAccessManager nam;
    const HttpResult events = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/v/events")), ViewerToken);
    QCOMPARE(events.status, 200);
    QCOMPARE(QJsonDocument::fromJson(events.body).array().size(), 5);
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/viewer-run")), AdminToken).status, 404);
}

void TestAuth::openLoopbackServer()
{
    Test::TestServer srv; // loopback, no token configured
    QVERIFY(srv.start());
    QVERIFY(srv.server().config().bind.isLoopback());
    QVERIFY(srv.server().config().token.isEmpty());

    ProbePtr producer = openProbe(srv.ws(QStringLiteral("/ws")));
    ProbePtr run = openProbe(srv.ws(QStringLiteral("/ws/runs/o")));
    ProbePtr lifecycle = openProbe(srv.ws(QStringLiteral("/ws/runs")));
    for (Probe *p : {producer.get(), run.get(), lifecycle.get()}) {
        QVERIFY(p->waitConnected());
        QVERIFY(!p->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    QCOMPARE(subscribe(*producer, QStringLiteral("o")).value(kType).toString(), QStringLiteral("subscribed"));
    const QJsonObject ack = request(*producer, lifecycleOp(QStringLiteral("o")));
    QVERIFY2(ack.value(kType).toString() == QLatin1String("ack"), qPrintable(describe(ack)));
    for (Probe *p : {producer.get(), run.get(), lifecycle.get()}) {
        QVERIFY(p->waitEvents(1));
        QCOMPARE(p->events().first().value(kRun).toString(), QStringLiteral("o"));
        QVERIFY(p->isConnected());
        QCOMPARE(ofType(*p, QStringLiteral("error")).size(), 0);
    }

    // HTTP: reading, publishing and admin rights without a token.
    QNetworkAccessManager nam;
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs"))).status, 200);
    QCOMPARE(httpCall(nam, "POST", srv.http(QStringLiteral("/api/events")), QByteArray(), eventBody(QStringLiteral("o2"))).status, 200);
    QCOMPARE(httpCall(nam, "GET", srv.http(QStringLiteral("/api/clients"))).status, 200);
    QCOMPARE(httpCall(nam, "DELETE", srv.http(QStringLiteral("/api/runs/o2"))).status, 200);
}

void TestAuth::http_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("via");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("errorCode");

    const QString header = QStringLiteral("header");
    const QString query = QStringLiteral("query");
    const QString none = QStringLiteral("none");
    const QString required = QStringLiteral("AUTH_REQUIRED");
    const QString failed = QStringLiteral("AUTH_FAILED");
    const QString forbidden = QStringLiteral("FORBIDDEN");
    const QByteArray get("GET"), post("POST"), del("DELETE");
    const QString runs = QStringLiteral("/api/runs");
    const QString events = QStringLiteral("/api/events");
    const QString run = QStringLiteral("/api/runs/r");

    QTest::newRow("GET runs, no token") << get << runs << none << QByteArray() << 401 << required;
    QTest::newRow("GET runs, wrong header") << get << runs << header << WrongToken << 401 << failed;
    QTest::newRow("GET runs, wrong query") << get << runs << query << WrongToken << 401 << failed;
    QTest::newRow("GET runs, admin header") << get << runs << header << AdminToken << 200 << QString();
    QTest::newRow("GET runs, viewer header") << get << runs << header << ViewerToken << 200 << QString();
    QTest::newRow("GET runs, viewer query") << get << runs << query << ViewerToken << 200 << QString();
    QTest::newRow("GET run, viewer") << get << run << header << ViewerToken << 200 << QString();
    QTest::newRow("GET run events, viewer") << get << QStringLiteral("/api/runs/r/events") << header << ViewerToken << 200 << QString();
    QTest::newRow("GET run events, no token") << get << QStringLiteral("/api/runs/r/events") << none << QByteArray() << 401 << required;
    QTest::newRow("GET /metrics, no token") << get << QStringLiteral("/metrics") << none << QByteArray() << 401 << required;
    QTest::newRow("POST events, viewer") << post << events << header << ViewerToken << 403 << forbidden;
    QTest::newRow("POST events, viewer query") << post << events << query << ViewerToken << 403 << forbidden;
    QTest::newRow("POST events, no token") << post << events << none << QByteArray() << 401 << required;
    QTest::newRow("POST events, wrong") << post << events << header << WrongToken << 401 << failed;
    QTest::newRow("POST events, admin") << post << events << header << AdminToken << 200 << QString();
    QTest::newRow("POST events, admin query") << post << events << query << AdminToken << 200 << QString();
    QTest::newRow("DELETE run, viewer") << del << run << header << ViewerToken << 403 << forbidden;
    QTest::newRow("DELETE run, no token") << del << run << none << QByteArray() << 401 << required;
    QTest::newRow("DELETE run, wrong") << del << run << header << WrongToken << 401 << failed;
    QTest::newRow("DELETE run, admin") << del << run << header << AdminToken << 200 << QString();
    QTest::newRow("GET clients, viewer") << get << QStringLiteral("/api/clients") << header << ViewerToken << 403 << forbidden;
    QTest::newRow("GET clients, admin") << get << QStringLiteral("/api/clients") << header << AdminToken << 200 << QString();
    QTest::newRow("GET healthz, no token") << get << QStringLiteral("/healthz") << none << QByteArray() << 200 << QString();
    QTest::newRow("GET healthz, wrong token") << get << QStringLiteral("/healthz") << header << WrongToken << 200 << QString();
    QTest::newRow("GET /, no token") << get << QStringLiteral("/") << none << QByteArray() << 200 << QString();
}

void TestAuth::http()
{
    QFETCH(QByteArray, method);
    QFETCH(QString, path);
    QFETCH(QString, via);
    QFETCH(QByteArray, token);
    QFETCH(int, status);
    QFETCH(QString, errorCode);

    Test::TestServer srv(tokenConfig());
    QVERIFY(srv.start());
    QNetworkAccessManager nam;
    // A run to read or delete.
    const HttpResult setup = httpCall(nam, "POST", srv.http(QStringLiteral("/api/events")), AdminToken, eventBody(QStringLiteral("r")));
    QCOMPARE(setup.status, 200);

    QUrl url = srv.http(path);
    QByteArray bearer;
    if (via == QLatin1String("query"))
        url = withQuery(url, QStringLiteral("token"), QString::fromLatin1(token));
    else if (via == QLatin1String("header"))
        bearer = token;
    const QByteArray body = method == "POST" ? eventBody(QStringLiteral("posted")) : QByteArray();
    const HttpResult result = httpCall(nam, method, url, bearer, body);
    QVERIFY2(result.status == status, qPrintable(QStringLiteral("status %1, body %2").arg(result.status).arg(QString::fromUtf8(result.body))));
    if (!errorCode.isEmpty())
        QCOMPARE(result.errorCode(), errorCode);
    if (status == 401)
        QVERIFY2(!result.wwwAuthenticate().isEmpty(), "a 401 carries WWW-Authenticate (RFC 9110)");

    // Effects: a refused POST stores nothing, a refused DELETE deletes nothing.
    const int postedStatus = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/posted")), AdminToken).status;
    const int runStatus = httpCall(nam, "GET", srv.http(QStringLiteral("/api/runs/r")), AdminToken).status;
    if (method == "POST")
        QCOMPARE(postedStatus, status == 200 ? 200 : 404);
    if (method == "DELETE")
        QCOMPARE(runStatus, status == 200 ? 404 : 200);
    else
        QCOMPARE(runStatus, 200);
}

QTEST_MAIN(TestAuth)
#include "tst_auth.moc"
