// Connection limits: in total and per peer address, counted whatever a connection becomes (HTTP or
// WebSocket); past a limit the newcomer gets one short answer and is closed, the others go on.
#include "testsupport.h"

#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>

#include <memory>
#include <vector>

using namespace Runwatch;

namespace {

// Opens a raw connection and sends one keep-alive request, so the server has counted it.
std::unique_ptr<QTcpSocket> openHttp(quint16 port, QByteArray *answer = nullptr, const QByteArray &path = "/healthz")
{
    auto socket = std::make_unique<QTcpSocket>();
    socket->connectToHost(QHostAddress::LocalHost, port);
    if (!socket->waitForConnected(5000))
        return nullptr;
    socket->write("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QByteArray got;
    QElapsedTimer clock;
    clock.start();
    auto complete = [&] {
        const qsizetype end = got.indexOf("\r\n\r\n");
        if (end < 0)
            return false;
        const qsizetype at = got.toLower().indexOf("content-length:");
        return at < 0 || got.size() - (end + 4) >= got.mid(at + 15, got.indexOf("\r\n", at) - at - 15).trimmed().toLongLong();
    };
    while (!complete() && clock.elapsed() < 5000 && socket->state() == QAbstractSocket::ConnectedState) {
        socket->waitForReadyRead(100);
        got += socket->readAll();
    }
    got += socket->readAll();
    if (answer)
        *answer = got;
    return socket;
}

// Tries new connections until one is admitted (200 OK) or the time is up.
bool admittedWithin(quint16 port, int timeoutMs)
{
    return QTest::qWaitFor(
        [port] {
            QByteArray answer;
            auto socket = openHttp(port, &answer);
            return answer.startsWith("HTTP/1.1 200");
        },
        timeoutMs);
}

} // namespace

class TestConnLimits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void perAddressLimit();
    void totalLimitCountsWebSockets();
    void churnLeavesNothingBehind();
};

void TestConnLimits::perAddressLimit()
{
    ServerConfig config;
    config.maxConnectionsPerAddress = 2;
    Test::TestServer server(config);
    QVERIFY(server.start());
    QByteArray answer;
    auto a = openHttp(server.port(), &answer);
    QVERIFY(answer.startsWith("HTTP/1.1 200"));
    auto b = openHttp(server.port(), &answer);
    QVERIFY(answer.startsWith("HTTP/1.1 200"));
    auto c = openHttp(server.port(), &answer);
    QVERIFY2(answer.startsWith("HTTP/1.1 429"), answer.constData());
    QVERIFY(answer.contains("RATE_LIMITED"));
    QTRY_COMPARE_WITH_TIMEOUT(c->state(), QAbstractSocket::UnconnectedState, 5000);
    // The two that were in are still served.
    a->write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QVERIFY(a->waitForReadyRead(5000));
    QVERIFY(a->readAll().startsWith("HTTP/1.1 200"));
    // One leaves, a newcomer gets in.
    b->disconnectFromHost();
    b.reset();
    QVERIFY2(admittedWithin(server.port(), 5000), "no place was given back after a client left");
}

void TestConnLimits::totalLimitCountsWebSockets()
{
    ServerConfig config;
    config.maxConnections = 2;
    Test::TestServer server(config);
    QVERIFY(server.start());
    std::vector<std::unique_ptr<Test::WsProbe>> probes;
    for (int i = 0; i < 2; ++i) {
        probes.push_back(std::make_unique<Test::WsProbe>());
        probes.back()->open(server.ws(QStringLiteral("/ws")));
        QVERIFY(probes.back()->waitConnected());
        QVERIFY(!probes.back()->waitMessage(QStringLiteral("welcome")).isEmpty());
    }
    QByteArray answer;
    auto refused = openHttp(server.port(), &answer);
    QVERIFY2(answer.startsWith("HTTP/1.1 503"), answer.constData());
    QVERIFY(answer.contains("RATE_LIMITED"));
    // A WebSocket client leaves: its place is free again.
    probes.back()->socket().close();
    QVERIFY(probes.back()->waitClosed());
    probes.pop_back();
    QVERIFY2(admittedWithin(server.port(), 5000), "no place was given back after a WebSocket client left");
}

void TestConnLimits::churnLeavesNothingBehind()
{
    Test::TestServer server;
    QVERIFY(server.start());
    // Many short WebSocket and HTTP connections, some closed cleanly, some dropped.
    for (int i = 0; i < 300; ++i) {
        Test::WsProbe probe;
        probe.open(server.ws(i % 2 ? QStringLiteral("/ws") : QStringLiteral("/ws/runs/r")));
        QVERIFY(probe.waitConnected());
        if (i % 3 == 0) {
            probe.socket().abort();
        } else {
            probe.socket().close();
            QVERIFY(probe.waitClosed());
        }
        if (i % 10 == 0)
            openHttp(server.port());
    }
    // Only the connection that asks remains.
    auto gauge = [&](const QByteArray &name) {
        QByteArray answer;
        auto socket = openHttp(server.port(), &answer, "/metrics");
        return Test::metricValue(answer, name);
    };
    QTRY_COMPARE_WITH_TIMEOUT(gauge("runwatch_tcp_connections"), qint64(1), 10000);
    QCOMPARE(gauge("runwatch_connections{kind=\"websocket\"}"), qint64(0));
}

QTEST_GUILESS_MAIN(TestConnLimits)
#include "tst_connlimits.moc"
