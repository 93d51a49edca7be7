// The access policy (server/net/accesspolicy.cpp) and the WebSocket handshake checks
// (server/net/wshandshake.cpp) on their own: roles from tokens, host and origin rules, CORS headers,
// and which upgrade requests are taken.

#include "accesspolicy.h"
#include "wsframes.h"
#include "wshandshake.h"

#include <QTest>

using namespace Runwatch;

namespace {

HttpRequest request(const QByteArray &head)
{
    HttpRequest out;
    const QByteArray text = QByteArray(head).replace("\n", "\r\n") + "\r\n";
    const Http::HeadResult result = Http::parseHead(text, 64 * 1024, &out);
    if (result.status != Http::ParseStatus::Complete)
        qFatal("test request does not parse: %s", head.constData());
    return out;
}

ServerConfig withTokens()
{
    ServerConfig config;
    config.token = QStringLiteral("admin-secret");
    config.viewerToken = QStringLiteral("viewer-secret");
    return config;
}

QByteArray headerOf(const HttpResponse &response, const QByteArray &name)
{
    for (const auto &h : response.headers) {
        if (h.first.compare(name, Qt::CaseInsensitive) == 0)
            return h.second;
    }
    return QByteArray();
}

const QByteArray Upgrade = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n";

} // namespace

class TestAccessPolicy : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void openServerMakesEveryoneAdmin();
    void rolesFromTokens_data();
    void rolesFromTokens();
    void tokenFromHeaderOrQuery();
    void hostNamesOnLoopback_data();
    void hostNamesOnLoopback();
    void originRules_data();
    void originRules();
    void refusalAndCors();
    void handshake_data();
    void handshake();
};

void TestAccessPolicy::openServerMakesEveryoneAdmin()
{
    const AccessPolicy open{ServerConfig()};
    QVERIFY(open.isOpen());
    bool wrong = true;
    QCOMPARE(open.roleFor(QString(), &wrong), Role::Admin);
    QVERIFY(!wrong);
    QCOMPARE(open.roleFor(QStringLiteral("anything"), &wrong), Role::Admin);
    QVERIFY(!wrong);
}

void TestAccessPolicy::rolesFromTokens_data()
{
    QTest::addColumn<QString>("token");
    QTest::addColumn<int>("role");
    QTest::addColumn<bool>("wrong");
    QTest::newRow("none") << QString() << int(Role::None) << false;
    QTest::newRow("admin") << QStringLiteral("admin-secret") << int(Role::Admin) << false;
    QTest::newRow("viewer") << QStringLiteral("viewer-secret") << int(Role::Viewer) << false;
    QTest::newRow("wrong") << QStringLiteral("guess") << int(Role::None) << true;
    QTest::newRow("prefix of the admin token") << QStringLiteral("admin-secre") << int(Role::None) << true;
    QTest::newRow("admin token and more") << QStringLiteral("admin-secretX") << int(Role::None) << true;
    QTest::newRow("other case") << QStringLiteral("ADMIN-SECRET") << int(Role::None) << true;
}

void TestAccessPolicy::rolesFromTokens()
{
    QFETCH(QString, token);
    QFETCH(int, role);
    QFETCH(bool, wrong);
    const AccessPolicy policy(withTokens());
    QVERIFY(!policy.isOpen());
    bool isWrong = !wrong;
    QCOMPARE(int(policy.roleFor(token, &isWrong)), role);
    QCOMPARE(isWrong, wrong);
}

void TestAccessPolicy::tokenFromHeaderOrQuery()
{
    QCOMPARE(AccessPolicy::tokenOf(request("GET /api/runs HTTP/1.1\nHost: x\nAuthorization: Bearer abc\n")), QStringLiteral("abc"));
    QCOMPARE(AccessPolicy::tokenOf(request("GET /api/runs HTTP/1.1\nHost: x\nAuthorization: bearer   abc  \n")), QStringLiteral("abc"));
    QCOMPARE(AccessPolicy::tokenOf(request("GET /api/runs?token=q%20t HTTP/1.1\nHost: x\n")), QStringLiteral("q t"));
    // The header wins over the query.
    QCOMPARE(AccessPolicy::tokenOf(request("GET /api/runs?token=q HTTP/1.1\nHost: x\nAuthorization: Bearer h\n")), QStringLiteral("h"));
    QCOMPARE(AccessPolicy::tokenOf(request("GET /api/runs HTTP/1.1\nHost: x\nAuthorization: Basic abc\n")), QString());
}

void TestAccessPolicy::hostNamesOnLoopback_data()
{
    QTest::addColumn<QString>("bind");
    QTest::addColumn<QByteArray>("host");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("127.0.0.1") << QStringLiteral("127.0.0.1") << QByteArray("127.0.0.1:7600") << true;
    QTest::newRow("localhost") << QStringLiteral("127.0.0.1") << QByteArray("localhost:7600") << true;
    QTest::newRow("a .localhost name") << QStringLiteral("127.0.0.1") << QByteArray("app.localhost") << true;
    QTest::newRow("[::1]") << QStringLiteral("127.0.0.1") << QByteArray("[::1]:7600") << true;
    QTest::newRow("127.1.2.3") << QStringLiteral("127.0.0.1") << QByteArray("127.1.2.3") << true;
    QTest::newRow("a rebinding name") << QStringLiteral("127.0.0.1") << QByteArray("evil.example:7600") << false;
    QTest::newRow("a LAN address") << QStringLiteral("127.0.0.1") << QByteArray("192.168.1.5:7600") << false;
    QTest::newRow("any name on a LAN bind") << QStringLiteral("0.0.0.0") << QByteArray("gpu-box.lab:7600") << true;
}

void TestAccessPolicy::hostNamesOnLoopback()
{
    QFETCH(QString, bind);
    QFETCH(QByteArray, host);
    QFETCH(bool, allowed);
    ServerConfig config = withTokens();
    config.bind = QHostAddress(bind);
    const AccessPolicy policy(config);
    QCOMPARE(policy.hostAllowed(request("GET / HTTP/1.1\nHost: " + host + "\n")), allowed);
}

void TestAccessPolicy::originRules_data()
{
    QTest::addColumn<QStringList>("allowedOrigins");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<bool>("allowed");
    QTest::newRow("no Origin") << QStringList() << QByteArray() << true;
    QTest::newRow("the server's own") << QStringList() << QByteArray("http://127.0.0.1:7600") << true;
    QTest::newRow("own over https") << QStringList() << QByteArray("https://127.0.0.1:7600") << true;
    QTest::newRow("another port") << QStringList() << QByteArray("http://127.0.0.1:8080") << false;
    QTest::newRow("another site") << QStringList() << QByteArray("https://evil.example") << false;
    QTest::newRow("allowed by --allow-origin") << QStringList{QStringLiteral("https://Dash.Example")} << QByteArray("https://dash.example") << true;
    QTest::newRow("not the one allowed") << QStringList{QStringLiteral("https://dash.example")} << QByteArray("https://dash.example.evil") << false;
    QTest::newRow("any, with *") << QStringList{QStringLiteral("*")} << QByteArray("https://anything.example") << true;
}

void TestAccessPolicy::originRules()
{
    QFETCH(QStringList, allowedOrigins);
    QFETCH(QByteArray, origin);
    QFETCH(bool, allowed);
    ServerConfig config;
    config.allowedOrigins = allowedOrigins;
    const AccessPolicy policy(config);
    QByteArray head = "GET /api/runs HTTP/1.1\nHost: 127.0.0.1:7600\n";
    if (!origin.isEmpty())
        head += "Origin: " + origin + "\n";
    QCOMPARE(policy.originAllowed(request(head)), allowed);
}

void TestAccessPolicy::refusalAndCors()
{
    ServerConfig config;
    config.allowedOrigins = {QStringLiteral("https://dash.example")};
    const AccessPolicy policy(config);

    // Allowed cross-origin read: not refused, and told so with CORS headers.
    const HttpRequest read = request("GET /api/runs HTTP/1.1\nHost: 127.0.0.1:7600\nOrigin: https://dash.example\n");
    QCOMPARE(policy.refusal(read).status, 0);
    HttpResponse answer;
    policy.addCorsHeaders(read, &answer);
    QCOMPARE(headerOf(answer, "Access-Control-Allow-Origin"), QByteArray("https://dash.example"));
    QCOMPARE(headerOf(answer, "Vary"), QByteArray("Origin"));
    QVERIFY(headerOf(answer, "Access-Control-Allow-Methods").isEmpty());

    // Its preflight gets the methods and headers too.
    const HttpRequest preflight = request("OPTIONS /api/events HTTP/1.1\nHost: 127.0.0.1:7600\nOrigin: https://dash.example\n");
    QCOMPARE(policy.refusal(preflight).status, 0);
    HttpResponse preflightAnswer;
    policy.addCorsHeaders(preflight, &preflightAnswer);
    QVERIFY(headerOf(preflightAnswer, "Access-Control-Allow-Methods").contains("POST"));
    QVERIFY(headerOf(preflightAnswer, "Access-Control-Allow-Headers").contains("Authorization"));

    // Another site: reads refused with 403; its preflight answered 204 with nothing that lets it on.
    const HttpRequest foreign = request("GET /api/runs HTTP/1.1\nHost: 127.0.0.1:7600\nOrigin: https://evil.example\n");
    QCOMPARE(policy.refusal(foreign).status, 403);
    const HttpRequest foreignPreflight = request("OPTIONS /api/runs HTTP/1.1\nHost: 127.0.0.1:7600\nOrigin: https://evil.example\n");
    const HttpResponse refused = policy.refusal(foreignPreflight);
    QCOMPARE(refused.status, 204);
    QVERIFY(headerOf(refused, "Access-Control-Allow-Origin").isEmpty());
    HttpResponse none;
    policy.addCorsHeaders(foreign, &none);
    QVERIFY(none.headers.isEmpty());

    // A rebinding host name is refused before anything else.
    QCOMPARE(policy.refusal(request("GET /api/runs HTTP/1.1\nHost: evil.example\n")).status, 403);
}

void TestAccessPolicy::handshake_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<int>("status"); // 101 when taken
    QTest::newRow("/ws") << QByteArray("GET /ws HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 101;
    QTest::newRow("/ws/runs") << QByteArray("GET /ws/runs HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 101;
    QTest::newRow("/ws/runs/r1 with a query") << QByteArray("GET /ws/runs/r1?since=5 HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 101;
    QTest::newRow("unknown path") << QByteArray("GET /socket HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 404;
    QTest::newRow("/ws/runs/a/b") << QByteArray("GET /ws/runs/a/b HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 404;
    QTest::newRow("bad run id") << QByteArray("GET /ws/runs/a%20b HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 404;
    QTest::newRow("POST") << QByteArray("POST /ws HTTP/1.1\nHost: 127.0.0.1\n" + Upgrade) << 405;
    QTest::newRow("version 8") << QByteArray("GET /ws HTTP/1.1\nHost: 127.0.0.1\n" + QByteArray(Upgrade).replace("Version: 13", "Version: 8")) << 426;
    QTest::newRow("short key") << QByteArray("GET /ws HTTP/1.1\nHost: 127.0.0.1\n" + QByteArray(Upgrade).replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")) << 400;
    QTest::newRow("HTTP/1.0") << QByteArray("GET /ws HTTP/1.0\nHost: 127.0.0.1\n" + Upgrade) << 400;
    QTest::newRow("rebinding host") << QByteArray("GET /ws HTTP/1.1\nHost: evil.example\n" + Upgrade) << 403;
    QTest::newRow("foreign origin") << QByteArray("GET /ws HTTP/1.1\nHost: 127.0.0.1\nOrigin: https://evil.example\n" + Upgrade) << 403;
}

void TestAccessPolicy::handshake()
{
    QFETCH(QByteArray, head);
    QFETCH(int, status);
    const AccessPolicy policy{ServerConfig()};
    const WsHandshake::Result result = WsHandshake::answer(request(head), policy);
    QCOMPARE(result.ok, status == 101);
    if (result.ok) {
        // RFC 6455's own example key and answer.
        QVERIFY(result.answer.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
        QVERIFY(result.answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        QVERIFY(result.answer.endsWith("\r\n\r\n"));
        QVERIFY(!result.answer.contains("Sec-WebSocket-Extensions"));
    } else {
        QCOMPARE(result.refusal.status, status);
        if (status == 426)
            QCOMPARE(headerOf(result.refusal, "Sec-WebSocket-Version"), QByteArray("13"));
    }
}

QTEST_GUILESS_MAIN(TestAccessPolicy)
#include "tst_accesspolicy.moc"
