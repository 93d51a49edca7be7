#pragma once

#include <QSslConfiguration>
#include <QTcpServer>

namespace Runwatch {

// A QTcpServer whose connections are TLS: each accepted socket is a QSslSocket that must finish its
// handshake within a time limit before it is handed on (as a pending connection); one that does
// not, or fails, is dropped without disturbing anyone else.
class TlsServer : public QTcpServer
{
    Q_OBJECT
public:
    TlsServer(const QSslConfiguration &configuration, int handshakeTimeoutMs, QObject *parent = nullptr);

    // Loads a PEM certificate (chain) and private key (RSA or EC) into a server configuration.
    static bool loadConfiguration(const QString &certFile, const QString &keyFile, QSslConfiguration *out, QString *error);

    qint64 handshakesFailed() const { return m_failed; }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    QSslConfiguration m_configuration;
    int m_timeoutMs;
    qint64 m_failed = 0;
};

} // namespace Runwatch
