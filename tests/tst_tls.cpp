// https and wss on the same port (--tls-cert/--tls-key), with a certificate made by the test and
// verified by the clients as a browser would (the test's certificate is the only trusted CA).
#include "testsupport.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

using namespace Runwatch;

class TestTls : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void httpsAndWssOnOnePort();
    void plainAndSilentClientsAreDroppedOthersServed();
    void badCertificateOrKeyIsRefusedClearly();

private:
    QSslConfiguration trusting() const;
    QTemporaryDir m_dir;
    QString m_cert;
    QString m_key;
};

void TestTls::initTestCase()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("Qt has no TLS backend on this machine");
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    QVERIFY2(!openssl.isEmpty(), "openssl is needed to make the test certificate (Debian: openssl)");
    m_cert = m_dir.filePath(QStringLiteral("cert.pem"));
    m_key = m_dir.filePath(QStringLiteral("key.pem"));
    QProcess process;
    process.start(openssl, {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"), QStringLiteral("rsa:2048"),
                            QStringLiteral("-nodes"), QStringLiteral("-keyout"), m_key, QStringLiteral("-out"), m_cert,
                            QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"), QStringLiteral("/CN=localhost"),
                            QStringLiteral("-addext"), QStringLiteral("subjectAltName=IP:127.0.0.1,DNS:localhost")});
    QVERIFY(process.waitForFinished(60000));
    QCOMPARE(process.exitCode(), 0);
}

QSslConfiguration TestTls::trusting() const
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setCaCertificates(QSslCertificate::fromPath(m_cert));
    configuration.setPeerVerifyMode(QSslSocket::VerifyPeer);
    return configuration;
}

void TestTls::httpsAndWssOnOnePort()
{
    ServerConfig config;
    config.tlsCertFile = m_cert;
    config.tlsKeyFile = m_key;
    Test::TestServer server(config);
    QVERIFY(server.start());
    QVERIFY(server.server().url().startsWith(QLatin1String("https://127.0.0.1:")));

    // A producer on wss: welcome, publish, ack.
    QWebSocket ws;
    ws.setSslConfiguration(trusting());
    QSignalSpy messages(&ws, &QWebSocket::textMessageReceived);
    QUrl wsUrl(QStringLiteral("wss://127.0.0.1/ws"));
    wsUrl.setPort(server.port());
    ws.open(wsUrl);
    QTRY_VERIFY_WITH_TIMEOUT(messages.count() >= 1, 10000);
    QCOMPARE(QJsonDocument::fromJson(messages.at(0).at(0).toString().toUtf8()).object().value(QLatin1String("type")).toString(),
             QStringLiteral("welcome"));
    ws.sendTextMessage(QStringLiteral(R"({"op":"publish","id":1,"event":{"run":"secure","type":"metric","data":{"step":1,"loss":0.5}}})"));
    QTRY_VERIFY_WITH_TIMEOUT(messages.count() >= 2, 10000);
    const QJsonObject ack = QJsonDocument::fromJson(messages.at(1).at(0).toString().toUtf8()).object();
    QCOMPARE(ack.value(QLatin1String("type")).toString(), QStringLiteral("ack"));

    // A reader on https sees it, with the certificate verified.
    QNetworkAccessManager nam;
    QUrl httpsUrl(QStringLiteral("https://127.0.0.1/api/runs/secure"));
    httpsUrl.setPort(server.port());
    QNetworkRequest request(httpsUrl);
    request.setSslConfiguration(trusting());
    QNetworkReply *reply = nam.get(request);
    QSignalSpy done(reply, &QNetworkReply::finished);
    QVERIFY(done.wait(10000));
    QCOMPARE(reply->error(), QNetworkReply::NoError);
    QCOMPARE(QJsonDocument::fromJson(reply->readAll()).object().value(QLatin1String("event_count")).toInt(), 1);
    reply->deleteLater();
}

void TestTls::plainAndSilentClientsAreDroppedOthersServed()
{
    ServerConfig config;
    config.tlsCertFile = m_cert;
    config.tlsKeyFile = m_key;
    config.handshakeTimeoutMs = 500;
    Test::TestServer server(config);
    QVERIFY(server.start());

    // Plain HTTP on the TLS port: no answer in plain text, the connection is closed.
    QTcpSocket plain;
    plain.connectToHost(QHostAddress::LocalHost, server.port());
    QVERIFY(plain.waitForConnected(5000));
    plain.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(plain.state() == QAbstractSocket::UnconnectedState, 10000);
    QVERIFY(!plain.readAll().contains("\"status\""));

    // A client that connects and never starts the handshake is dropped after the timeout.
    QTcpSocket silent;
    silent.connectToHost(QHostAddress::LocalHost, server.port());
    QVERIFY(silent.waitForConnected(5000));
    QTRY_VERIFY_WITH_TIMEOUT(silent.state() == QAbstractSocket::UnconnectedState, 10000);

    // Meanwhile a good client is served.
    QNetworkAccessManager nam;
    QUrl url(QStringLiteral("https://127.0.0.1/healthz"));
    url.setPort(server.port());
    QNetworkRequest request(url);
    request.setSslConfiguration(trusting());
    QNetworkReply *reply = nam.get(request);
    QSignalSpy done(reply, &QNetworkReply::finished);
    QVERIFY(done.wait(10000));
    QCOMPARE(reply->error(), QNetworkReply::NoError);
    QCOMPARE(QJsonDocument::fromJson(reply->readAll()).object().value(QLatin1String("status")).toString(), QStringLiteral("ok"));
    reply->deleteLater();
}

void TestTls::badCertificateOrKeyIsRefusedClearly()
{
    const QString garbage = m_dir.filePath(QStringLiteral("garbage.pem"));
    QFile file(garbage);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("not a certificate\n");
    file.close();
    const struct {
        QString cert, key, words;
    } cases[] = {
        {garbage, m_key, QStringLiteral("certificate")},
        {m_cert, garbage, QStringLiteral("private key")},
        {m_cert, m_dir.filePath(QStringLiteral("missing.pem")), QStringLiteral("cannot read TLS key")},
    };
    for (const auto &c : cases) {
        ServerConfig config;
        config.port = 0;
        config.tlsCertFile = c.cert;
        config.tlsKeyFile = c.key;
        Server server(config);
        QString error;
        QVERIFY(!server.start(&error));
        QVERIFY2(error.contains(c.words), qPrintable(error));
        QVERIFY(!error.contains(QLatin1Char('\n')));
    }
}

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"
