#pragma once

#include <QSslConfiguration>
#include <QString>

namespace Runwatch {

// The server's TLS setup (--tls-cert, --tls-key): a PEM certificate (chain) and an unencrypted PEM
// private key (RSA or EC), TLS 1.2 or later, no client certificates (clients authenticate with
// tokens). False with a one-line reason when TLS is not available or a file is unusable.
bool loadTlsConfiguration(const QString &certFile, const QString &keyFile, QSslConfiguration *out, QString *error);

} // namespace Runwatch
