#include "http.h"

#include "codec.h"

#include <QJsonObject>
#include <QStringDecoder>
#include <QUrlQuery>

#include <algorithm>
#include <cctype>

namespace Runwatch {

namespace {

bool equalsIgnoreCase(const QByteArray &a, const char *b)
{
    return qstricmp(a.constData(), b) == 0;
}

bool isTokenChar(char c)
{
    if (c >= 'a' && c <= 'z')
        return true;
    if (c >= 'A' && c <= 'Z')
        return true;
    if (c >= '0' && c <= '9')
        return true;
    return c && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Where the line at the front of `buffer` ends (its CRLF), or -1 when that is not received yet.
// *length is the line's length so far (a CR at the very end may start the CRLF: not counted), so that
// a bound on the line length gives the same verdict however the bytes were split into reads.
qsizetype frontLine(const QByteArray &buffer, qsizetype *length)
{
    const qsizetype eol = buffer.indexOf("\r\n");
    *length = eol >= 0 ? eol : buffer.size() - (buffer.endsWith('\r') ? 1 : 0);
    return eol;
}

bool headerHasToken(const QByteArray &value, const char *token)
{
    for (const QByteArray &part : value.split(',')) {
        if (equalsIgnoreCase(part.trimmed(), token))
            return true;
    }
    return false;
}

} // namespace

QByteArray HttpRequest::header(const char *name) const
{
    for (const auto &h : headers) {
        if (equalsIgnoreCase(h.first, name))
            return h.second;
    }
    return {};
}

bool HttpRequest::hasHeader(const char *name) const
{
    for (const auto &h : headers) {
        if (equalsIgnoreCase(h.first, name))
            return true;
    }
    return false;
}

bool HttpRequest::keepAlive() const
{
    const QByteArray connection = header("Connection");
    if (minorVersion == 0)
        return headerHasToken(connection, "keep-alive");
    return !headerHasToken(connection, "close");
}

bool HttpRequest::isWebSocketUpgrade() const
{
    return headerHasToken(header("Upgrade"), "websocket") && headerHasToken(header("Connection"), "upgrade");
}

QString HttpRequest::queryValue(const QString &key, bool *present) const
{
    const QUrlQuery q(QString::fromUtf8(query));
    if (present)
        *present = q.hasQueryItem(key);
    return q.queryItemValue(key, QUrl::FullyDecoded);
}

HttpResponse HttpResponse::json(int status, const QByteArray &body)
{
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

HttpResponse HttpResponse::error(int status, const QString &code, const QString &message)
{
    const QJsonObject inner{{QStringLiteral("code"), code}, {QStringLiteral("message"), message}};
    return json(status, Codec::compact(QJsonObject{{QStringLiteral("error"), inner}}));
}

namespace Http {

HeadResult parseHead(const QByteArray &bytes, int maxHeaderBytes, HttpRequest *request)
{
    HeadResult result;
    // Tolerate blank lines before a request (RFC 9112 section 2.2).
    int start = 0;
    while (start + 1 < bytes.size() && bytes.at(start) == '\r' && bytes.at(start + 1) == '\n')
        start += 2;
    const int end = int(bytes.indexOf("\r\n\r\n", start));
    if (end < 0) {
        if (bytes.size() > maxHeaderBytes) {
            result.status = ParseStatus::Bad;
            result.httpStatus = 431;
            result.message = QStringLiteral("request head larger than %1 bytes").arg(maxHeaderBytes);
        }
        return result;
    }
    if (end + 4 > maxHeaderBytes) {
        result.status = ParseStatus::Bad;
        result.httpStatus = 431;
        result.message = QStringLiteral("request head larger than %1 bytes").arg(maxHeaderBytes);
        return result;
    }
    auto bad = [&](int status, const QString &message) {
        result.status = ParseStatus::Bad;
        result.httpStatus = status;
        result.message = message;
        return result;
    };
    // Every line, the last one included, keeps its CRLF; the split leaves one empty tail.
    QList<QByteArray> lines = bytes.mid(start, end + 2 - start).split('\n');
    lines.removeLast();
    QByteArray requestLine = lines.first();
    if (!requestLine.endsWith('\r'))
        return bad(400, QStringLiteral("request lines must end with CRLF"));
    requestLine.chop(1);
    const QList<QByteArray> parts = requestLine.split(' ');
    if (parts.size() != 3 || parts.at(0).isEmpty() || parts.at(1).isEmpty())
        return bad(400, QStringLiteral("malformed request line"));
    for (char c : parts.at(0)) {
        if (!isTokenChar(c))
            return bad(400, QStringLiteral("malformed method"));
    }
    const QByteArray &version = parts.at(2);
    if (version == "HTTP/1.1")
        request->minorVersion = 1;
    else if (version == "HTTP/1.0")
        request->minorVersion = 0;
    else if (version.startsWith("HTTP/"))
        return bad(505, QStringLiteral("only HTTP/1.0 and HTTP/1.1 are served"));
    else
        return bad(400, QStringLiteral("malformed request line"));
    request->method = parts.at(0);
    request->target = parts.at(1);
    if (!request->target.startsWith('/'))
        return bad(400, QStringLiteral("request target must be an absolute path"));
    for (char c : request->target) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad(400, QStringLiteral("invalid character in request target"));
    }
    const int q = int(request->target.indexOf('?'));
    request->path = q < 0 ? request->target : request->target.left(q);
    request->query = q < 0 ? QByteArray() : request->target.mid(q + 1);
    const int fragment = int(request->query.indexOf('#'));
    if (fragment >= 0)
        request->query.truncate(fragment);

    request->headers.clear();
    for (int i = 1; i < lines.size(); ++i) {
        QByteArray line = lines.at(i);
        if (!line.endsWith('\r'))
            return bad(400, QStringLiteral("header lines must end with CRLF"));
        line.chop(1);
        if (line.startsWith(' ') || line.startsWith('\t'))
            return bad(400, QStringLiteral("folded header lines are not accepted"));
        const int colon = int(line.indexOf(':'));
        if (colon <= 0)
            return bad(400, QStringLiteral("malformed header line"));
        const QByteArray name = line.left(colon);
        for (char c : name) {
            if (!isTokenChar(c))
                return bad(400, QStringLiteral("malformed header name"));
        }
        const QByteArray value = line.mid(colon + 1).trimmed();
        for (char c : value) {
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                return bad(400, QStringLiteral("invalid character in header %1").arg(QString::fromLatin1(name)));
        }
        if (request->headers.size() >= 200)
            return bad(431, QStringLiteral("too many header lines"));
        request->headers.append(qMakePair(name, value));
    }
    if (request->minorVersion == 1 && !request->hasHeader("Host"))
        return bad(400, QStringLiteral("HTTP/1.1 requests need a Host header"));
    result.status = ParseStatus::Complete;
    result.headLength = end + 4;
    return result;
}

BodyFraming bodyFraming(const HttpRequest &request, qint64 maxBodyBytes)
{
    BodyFraming framing;
    // Several Transfer-Encoding headers are one list (RFC 9110 section 5.3); the only coding the
    // server takes is chunked, alone: anything else could be framed differently by a proxy in front.
    QList<QByteArray> codings;
    bool transferEncoding = false;
    int lengthHeaders = 0;
    QByteArray lengthValue;
    for (const auto &h : request.headers) {
        if (equalsIgnoreCase(h.first, "Transfer-Encoding")) {
            transferEncoding = true;
            for (const QByteArray &coding : h.second.split(',')) {
                if (!coding.trimmed().isEmpty())
                    codings.append(coding.trimmed().toLower());
            }
        } else if (equalsIgnoreCase(h.first, "Content-Length")) {
            if (lengthHeaders && h.second != lengthValue) {
                framing.ok = false;
                framing.httpStatus = 400;
                framing.message = QStringLiteral("conflicting Content-Length headers");
                return framing;
            }
            ++lengthHeaders;
            lengthValue = h.second;
        }
    }
    if (transferEncoding) {
        const bool onlyChunked = codings.size() == 1 && codings.first() == "chunked";
        if (lengthHeaders || !onlyChunked) {
            framing.ok = false;
            const bool unknown = std::any_of(codings.cbegin(), codings.cend(), [](const QByteArray &c) { return c != "chunked"; });
            framing.httpStatus = unknown ? 501 : 400;
            framing.message = lengthHeaders ? QStringLiteral("both Transfer-Encoding and Content-Length")
                : unknown                   ? QStringLiteral("only chunked transfer coding is supported")
                                            : QStringLiteral("Transfer-Encoding must be exactly \"chunked\", once");
            return framing;
        }
        framing.chunked = true;
        return framing;
    }
    if (lengthHeaders) {
        bool ok = lengthValue.size() <= 18 && !lengthValue.isEmpty();
        for (char c : lengthValue)
            ok = ok && c >= '0' && c <= '9';
        const qint64 length = ok ? lengthValue.toLongLong(&ok) : -1;
        if (!ok || length < 0) {
            framing.ok = false;
            framing.httpStatus = 400;
            framing.message = QStringLiteral("invalid Content-Length");
            return framing;
        }
        if (length > maxBodyBytes) {
            framing.ok = false;
            framing.httpStatus = 413;
            framing.message = QStringLiteral("body of %1 bytes is over the limit of %2 bytes")
                                  .arg(length)
                                  .arg(maxBodyBytes);
            return framing;
        }
        framing.length = length;
    }
    return framing;
}

ParseStatus ChunkedDecoder::fail(int status, const QString &message)
{
    m_status = status;
    m_message = message;
    return ParseStatus::Bad;
}

ParseStatus ChunkedDecoder::feed(QByteArray &buffer)
{
    for (;;) {
        switch (m_state) {
        case State::Size: {
            qsizetype length = 0;
            const int eol = int(frontLine(buffer, &length));
            if (length > 1024)
                return fail(400, QStringLiteral("chunk size line too long"));
            if (eol < 0)
                return ParseStatus::Incomplete;
            QByteArray line = buffer.left(eol);
            buffer.remove(0, eol + 2);
            const int ext = int(line.indexOf(';'));
            if (ext >= 0)
                line.truncate(ext);
            line = line.trimmed();
            // chunk-size = 1*HEXDIG: no sign, no 0x prefix, nothing a lenient parser would guess at.
            bool ok = !line.isEmpty() && line.size() <= 15
                && std::all_of(line.cbegin(), line.cend(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
            const qint64 size = ok ? line.toLongLong(&ok, 16) : -1;
            if (!ok || size < 0)
                return fail(400, QStringLiteral("invalid chunk size"));
            if (m_body.size() + size > m_max)
                return fail(413, QStringLiteral("chunked body over the limit of %1 bytes").arg(m_max));
            if (size == 0) {
                m_state = State::Trailer;
            } else {
                m_remaining = size;
                m_state = State::Data;
            }
            break;
        }
        case State::Data: {
            if (buffer.isEmpty())
                return ParseStatus::Incomplete;
            const qint64 take = qMin<qint64>(m_remaining, buffer.size());
            m_body.append(buffer.constData(), take);
            buffer.remove(0, take);
            m_remaining -= take;
            if (m_remaining == 0)
                m_state = State::DataEnd;
            break;
        }
        case State::DataEnd:
            if (buffer.size() < 2)
                return ParseStatus::Incomplete;
            if (!buffer.startsWith("\r\n"))
                return fail(400, QStringLiteral("chunk data not followed by CRLF"));
            buffer.remove(0, 2);
            m_state = State::Size;
            break;
        case State::Trailer: {
            qsizetype length = 0;
            const int eol = int(frontLine(buffer, &length));
            if (length > 8192)
                return fail(431, QStringLiteral("chunked trailer too long"));
            if (eol < 0)
                return ParseStatus::Incomplete;
            buffer.remove(0, eol + 2);
            if (eol == 0)
                return ParseStatus::Complete;
            break;
        }
        }
    }
}

bool splitPath(const QByteArray &path, QStringList *segments)
{
    segments->clear();
    const QList<QByteArray> raw = path.split('/');
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    for (qsizetype i = 1; i < raw.size(); ++i) {
        const QByteArray decoded = QByteArray::fromPercentEncoding(raw.at(i));
        if (decoded.contains('\0'))
            return false;
        const QString text = decoder.decode(decoded);
        if (decoder.hasError())
            return false;
        segments->append(text);
    }
    // A trailing slash ("/api/runs/") names the same resource as without it.
    if (segments->size() > 1 && segments->last().isEmpty())
        segments->removeLast();
    return true;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

QByteArray serialize(const HttpResponse &response, bool keepAlive, bool headOnly)
{
    QByteArray out;
    out.reserve(response.body.size() + 256);
    out.append("HTTP/1.1 ");
    out.append(QByteArray::number(response.status));
    out.append(' ');
    out.append(reasonPhrase(response.status));
    out.append("\r\nServer: runwatch\r\n");
    if (response.status != 204) {
        out.append("Content-Type: ");
        out.append(response.contentType);
        out.append("\r\nContent-Length: ");
        out.append(QByteArray::number(response.body.size()));
        out.append("\r\n");
    }
    out.append("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    for (const auto &h : response.headers) {
        out.append(h.first);
        out.append(": ");
        out.append(h.second);
        out.append("\r\n");
    }
    out.append(keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!headOnly && response.status != 204)
        out.append(response.body);
    return out;
}

} // namespace Http
} // namespace Runwatch
