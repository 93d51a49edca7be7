#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

namespace Runwatch {

struct HttpRequest {
    QByteArray method;
    QByteArray target;   // as sent: path and query
    QByteArray path;     // still percent-encoded
    QByteArray query;    // after '?', still percent-encoded
    int minorVersion = 1;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const char *name) const; // case-insensitive; empty when absent
    bool hasHeader(const char *name) const;
    bool keepAlive() const;
    bool isWebSocketUpgrade() const;
    QString queryValue(const QString &key, bool *present = nullptr) const;
};

struct HttpResponse {
    int status = 200;
    QByteArray contentType = "application/json";
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers;

    void addHeader(const QByteArray &name, const QByteArray &value) { headers.append(qMakePair(name, value)); }

    static HttpResponse json(int status, const QByteArray &body);
    static HttpResponse error(int status, const QString &code, const QString &message);
};

namespace Http {

enum class ParseStatus { Incomplete, Complete, Bad };

struct HeadResult {
    ParseStatus status = ParseStatus::Incomplete;
    int headLength = 0;  // bytes up to and including the blank line
    int httpStatus = 0;  // for Bad: 400, 414, 431, 501, 505
    QString message;
};

// Parses a request head from the start of `bytes` (request line and headers).
HeadResult parseHead(const QByteArray &bytes, int maxHeaderBytes, HttpRequest *request);

// Body framing from the head: Content-Length or chunked. -1 length means chunked.
struct BodyFraming {
    bool ok = true;
    int httpStatus = 0;
    QString message;
    qint64 length = 0;
    bool chunked = false;
};
BodyFraming bodyFraming(const HttpRequest &request, qint64 maxBodyBytes);

// Incremental decoder of a chunked body.
class ChunkedDecoder
{
public:
    explicit ChunkedDecoder(qint64 maxBodyBytes) : m_max(maxBodyBytes) {}
    // Consumes from the front of `buffer`; Complete when the last chunk and trailers are read.
    ParseStatus feed(QByteArray &buffer);
    QByteArray takeBody() { return std::move(m_body); }
    int httpStatus() const { return m_status; }
    QString message() const { return m_message; }

private:
    enum class State { Size, Data, DataEnd, Trailer };
    ParseStatus fail(int status, const QString &message);
    State m_state = State::Size;
    qint64 m_remaining = 0;
    qint64 m_max;
    QByteArray m_body;
    int m_status = 0;
    QString m_message;
};

// Splits a percent-encoded path into decoded segments; false when it is not valid UTF-8 or
// holds a NUL.
bool splitPath(const QByteArray &path, QStringList *segments);

QByteArray reasonPhrase(int status);
QByteArray serialize(const HttpResponse &response, bool keepAlive, bool headOnly);

} // namespace Http
} // namespace Runwatch
