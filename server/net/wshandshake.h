#pragma once

#include "http.h"

namespace Runwatch {

class AccessPolicy;

// The server's side of the WebSocket opening handshake (RFC 6455 section 4.2): which upgrade
// requests are taken, and the 101 answer. No extension and no subprotocol is agreed: frames are
// plain, and permessage-deflate offers are declined by leaving them unanswered.
namespace WsHandshake {

struct Result {
    bool ok = false;
    HttpResponse refusal; // when not ok
    QByteArray answer;    // when ok: the whole 101 response
};

// Paths /ws, /ws/runs and /ws/runs/{run}; GET over HTTP/1.1; version 13; a key of 16 bytes in
// base64; host and origin as the access policy allows.
Result answer(const HttpRequest &request, const AccessPolicy &access);

} // namespace WsHandshake
} // namespace Runwatch
