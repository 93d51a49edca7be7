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
std::unique_ptr<QTcpSocket> openHttp(quint16 port, QByteArray *answer = nullptr)
{
    auto socket = std::make_unique<QTcpSocket>();
    socket->connectToHost(QHostAddress::LocalHost, port);
    if (!socket->waitForConnected(5000))
        return nullptr;
    socket->write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QByteArray got;
    QElapsedTimer clock;
    clock.start();
    while (!got.contains("\r\n\r\n") && clock.elapsed() < 5000 && socket->state() == QAbstractSocket::ConnectedState) {
        socket->waitForReadyRead(100);
        got += socket->readAll();
    }
    got += socket->readAll();
    if (answer)
        *answer = got;
    return socket;
}

} // namespace

class TestConnLimits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void perAddressLimit();
    void totalLimitCountsWebSockets();
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
    QByteArray again;
    QTRY_VERIFY2_WITH_TIMEOUT([&] {
        auto d = openHttp(server.port(), &again);
        return again.startsWith("HTTP/1.1 200");
    }(), again.constData(), 5000);
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
    QByteArray again;
    QTRY_VERIFY2_WITH_TIMEOUT([&] {
        auto ok = openHttp(server.port(), &again);
        return again.startsWith("HTTP/1.1 200");
    }(), again.constData(), 5000);
}

QTEST_GUILESS_MAIN(TestConnLimits)
#include "tst_connlimits.moc"
