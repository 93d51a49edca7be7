#include "tlsserver.h"

#include <QFile>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>
#include <QTimer>

namespace Runwatch {

TlsServer::TlsServer(const QSslConfiguration &configuration, int handshakeTimeoutMs, QObject *parent)
    : QTcpServer(parent), m_configuration(configuration), m_timeoutMs(handshakeTimeoutMs)
{
}

bool TlsServer::loadConfiguration(const QString &certFile, const QString &keyFile, QSslConfiguration *out, QString *error)
{
    if (!QSslSocket::supportsSsl()) {
        *error = QStringLiteral("TLS is not available: Qt found no TLS backend (OpenSSL)");
        return false;
    }
    const QList<QSslCertificate> chain = QSslCertificate::fromPath(certFile, QSsl::Pem);
    if (chain.isEmpty() || chain.first().isNull()) {
        *error = QStringLiteral("cannot read a PEM certificate from %1").arg(certFile);
        return false;
    }
    QFile file(keyFile);
    if (!file.open(QIODevice::ReadOnly)) {
        *error = QStringLiteral("cannot read TLS key %1: %2").arg(keyFile, file.errorString());
        return false;
    }
    const QByteArray pem = file.readAll();
    QSslKey key(pem, QSsl::Rsa, QSsl::Pem, QSsl::PrivateKey);
    if (key.isNull())
        key = QSslKey(pem, QSsl::Ec, QSsl::Pem, QSsl::PrivateKey);
    if (key.isNull()) {
        *error = QStringLiteral("%1 holds no unencrypted PEM private key (RSA or EC)").arg(keyFile);
        return false;
    }
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setLocalCertificateChain(chain);
    configuration.setPrivateKey(key);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone); // clients authenticate with tokens
    configuration.setProtocol(QSsl::TlsV1_2OrLater);
    *out = configuration;
    return true;
}

void TlsServer::incomingConnection(qintptr descriptor)
{
    auto *socket = new QSslSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    socket->setSslConfiguration(m_configuration);
    auto *timer = new QTimer(socket);
    timer->setSingleShot(true);
    auto drop = [this, socket] {
        if (socket->property("runwatchHandedOn").toBool())
            return;
        ++m_failed;
        socket->setProperty("runwatchHandedOn", true); // dropped: never hand it on later
        socket->abort();
        socket->deleteLater();
    };
    connect(timer, &QTimer::timeout, socket, drop);
    connect(socket, &QSslSocket::errorOccurred, socket, [socket, drop](QAbstractSocket::SocketError) {
        if (!socket->isEncrypted())
            drop();
    });
    connect(socket, &QSslSocket::encrypted, this, [this, socket, timer] {
        if (socket->property("runwatchHandedOn").toBool())
            return;
        socket->setProperty("runwatchHandedOn", true);
        timer->deleteLater();
        addPendingConnection(socket);
        Q_EMIT newConnection();
    });
    timer->start(m_timeoutMs);
    socket->startServerEncryption();
}

} // namespace Runwatch
