#pragma once

#include "config.h"
#include "http.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace Runwatch {

// Who may do what, and which browsers and host names are served: built once from ServerConfig,
// a plain value with no state of its own, used by the HTTP and WebSocket sides alike.
class AccessPolicy
{
public:
    explicit AccessPolicy(const ServerConfig &config);

    // No token set: every client is admin (the server binds loopback only then).
    bool isOpen() const { return m_token.isEmpty(); }
    // The role of a token (empty: none given). *wrong is set when a token was given but matches
    // none. Tokens are compared in constant time.
    Role roleFor(const QString &token, bool *wrong) const;
    // The token of a request: Authorization: Bearer, else ?token=.
    static QString tokenOf(const HttpRequest &request);

    // On a loopback bind, only loopback host names are served (no DNS rebinding).
    bool hostAllowed(const HttpRequest &request) const;
    // A request without Origin, from the server's own origin, or from one allowed by --allow-origin.
    bool originAllowed(const HttpRequest &request) const;

    // The answer to an HTTP request that host or origin rules refuse; status 0 when it may go on.
    // An OPTIONS preflight from a refused origin is answered (204, without CORS headers) rather
    // than refused, so that the browser stops there.
    HttpResponse refusal(const HttpRequest &request) const;
    // CORS headers for an allowed cross-origin request (and the preflight's, for OPTIONS).
    void addCorsHeaders(const HttpRequest &request, HttpResponse *response) const;

private:
    QByteArray m_token;
    QByteArray m_viewerToken;
    bool m_loopbackBind;
    bool m_anyOrigin;
    QStringList m_allowedOrigins;
};

} // namespace Runwatch
