#include "wshandshake.h"

#include "accesspolicy.h"
#include "codec.h"
#include "wsframes.h"

namespace Runwatch {
namespace WsHandshake {

Result answer(const HttpRequest &request, const AccessPolicy &access)
{
    Result result;
    auto refuse = [&result](int status, const QString &code, const QString &message) {
        result.refusal = HttpResponse::error(status, code, message);
        return result;
    };
    QStringList segments;
    if (request.method != "GET")
        return refuse(405, QStringLiteral("METHOD_NOT_ALLOWED"), QStringLiteral("a WebSocket upgrade must be a GET"));
    if (!Http::splitPath(request.path, &segments) || segments.value(0) != QLatin1String("ws") || segments.size() > 3
        || (segments.size() >= 2 && segments.at(1) != QLatin1String("runs"))
        || (segments.size() == 3 && !Codec::isValidRunId(segments.at(2))))
        return refuse(404, QStringLiteral("NOT_FOUND"), QStringLiteral("WebSocket paths are /ws, /ws/runs and /ws/runs/{run}"));
    if (!access.hostAllowed(request))
        return refuse(403, QStringLiteral("FORBIDDEN"), QStringLiteral("this server answers only to loopback host names"));
    if (!access.originAllowed(request))
        return refuse(403, QStringLiteral("FORBIDDEN"),
                      QStringLiteral("origin %1 is not allowed (see --allow-origin)").arg(QString::fromLatin1(request.header("Origin"))));
    if (request.header("Sec-WebSocket-Version").trimmed() != "13") {
        refuse(426, QStringLiteral("INVALID_REQUEST"), QStringLiteral("only WebSocket version 13 is spoken"));
        result.refusal.addHeader("Sec-WebSocket-Version", "13");
        return result;
    }
    const QByteArray key = request.header("Sec-WebSocket-Key");
    if (!WsFrames::isValidKey(key))
        return refuse(400, QStringLiteral("INVALID_REQUEST"), QStringLiteral("Sec-WebSocket-Key must be 16 bytes in base64"));
    if (request.minorVersion != 1)
        return refuse(400, QStringLiteral("INVALID_REQUEST"), QStringLiteral("a WebSocket upgrade needs HTTP/1.1"));
    result.ok = true;
    result.answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
        + WsFrames::acceptKey(key) + "\r\nServer: runwatch\r\n\r\n";
    return result;
}

} // namespace WsHandshake
} // namespace Runwatch
