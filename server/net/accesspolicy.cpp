#include "accesspolicy.h"

#include <QHostAddress>

namespace Runwatch {

QString roleName(Role role)
{
    switch (role) {
    case Role::None: return QStringLiteral("none");
    case Role::Viewer: return QStringLiteral("viewer");
    case Role::Producer: return QStringLiteral("producer");
    case Role::Admin: return QStringLiteral("admin");
    }
    return QString();
}

namespace {

bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
    return diff == 0;
}

QString bearerToken(const QByteArray &authorization)
{
    const QByteArray value = authorization.trimmed();
    if (value.size() > 7 && qstrnicmp(value.constData(), "Bearer ", 7) == 0)
        return QString::fromUtf8(value.mid(7).trimmed());
    return QString();
}

// Host part of a Host header: "localhost:7600" -> "localhost", "[::1]:7600" -> "::1".
QString hostPart(const QByteArray &hostHeader)
{
    QString host = QString::fromLatin1(hostHeader).trimmed().toLower();
    if (host.startsWith(QLatin1Char('['))) {
        const int close = int(host.indexOf(QLatin1Char(']')));
        return close > 0 ? host.mid(1, close - 1) : QString();
    }
    const int colon = int(host.lastIndexOf(QLatin1Char(':')));
    return colon >= 0 ? host.left(colon) : host;
}

} // namespace

AccessPolicy::AccessPolicy(const ServerConfig &config)
    : m_token(config.token.toUtf8())
    , m_viewerToken(config.viewerToken.toUtf8())
    , m_loopbackBind(config.bind.isLoopback())
    , m_anyOrigin(config.allowedOrigins.contains(QStringLiteral("*")))
{
    for (const QString &origin : config.allowedOrigins)
        m_allowedOrigins.append(origin.toLower());
}

Role AccessPolicy::roleFor(const QString &token, bool *wrong) const
{
    *wrong = false;
    if (m_token.isEmpty())
        return Role::Admin;
    if (token.isEmpty())
        return Role::None;
    const QByteArray given = token.toUtf8();
    if (constantTimeEquals(given, m_token))
        return Role::Admin;
    if (!m_viewerToken.isEmpty() && constantTimeEquals(given, m_viewerToken))
        return Role::Viewer;
    *wrong = true;
    return Role::None;
}

QString AccessPolicy::tokenOf(const HttpRequest &request)
{
    const QString bearer = bearerToken(request.header("Authorization"));
    if (!bearer.isEmpty())
        return bearer;
    return request.queryValue(QStringLiteral("token"));
}

bool AccessPolicy::hostAllowed(const HttpRequest &request) const
{
    // A page on another site that rebinds its own name to 127.0.0.1 must not reach an open server.
    if (!m_loopbackBind || !request.hasHeader("Host"))
        return true;
    const QString host = hostPart(request.header("Host"));
    if (host == QLatin1String("localhost") || host.endsWith(QLatin1String(".localhost")))
        return true;
    const QHostAddress address(host);
    return !address.isNull() && address.isLoopback();
}

bool AccessPolicy::originAllowed(const HttpRequest &request) const
{
    const QByteArray origin = request.header("Origin");
    if (origin.isEmpty())
        return true;
    const QString text = QString::fromLatin1(origin).toLower();
    if (m_anyOrigin || m_allowedOrigins.contains(text))
        return true;
    const QString host = QString::fromLatin1(request.header("Host")).toLower();
    return text == QLatin1String("http://") + host || text == QLatin1String("https://") + host;
}

HttpResponse AccessPolicy::refusal(const HttpRequest &request) const
{
    if (!hostAllowed(request))
        return HttpResponse::error(403, QStringLiteral("FORBIDDEN"), QStringLiteral("this server answers only to loopback host names"));
    if (originAllowed(request)) {
        HttpResponse none;
        none.status = 0;
        return none;
    }
    // A page from another site gets nothing, reads included (unless allowed with --allow-origin);
    // only the CORS preflight is answered, without the headers that would let the browser go on.
    if (request.method == "OPTIONS") {
        HttpResponse preflight;
        preflight.status = 204;
        return preflight;
    }
    return HttpResponse::error(403, QStringLiteral("FORBIDDEN"),
                               QStringLiteral("origin %1 is not allowed (see --allow-origin)")
                                   .arg(QString::fromLatin1(request.header("Origin"))));
}

void AccessPolicy::addCorsHeaders(const HttpRequest &request, HttpResponse *response) const
{
    const QByteArray origin = request.header("Origin");
    if (origin.isEmpty() || !originAllowed(request))
        return;
    if (request.method == "OPTIONS") {
        response->addHeader("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        response->addHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
        response->addHeader("Access-Control-Max-Age", "600");
    }
    response->addHeader("Access-Control-Allow-Origin", origin);
    response->addHeader("Vary", "Origin");
}

} // namespace Runwatch
