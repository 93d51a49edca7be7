// Fuzz target: the incremental HTTP/1.1 parser (server/net/http.cpp) and what comes after it: body
// framing, the chunked decoder, query parameters, path splitting and the routing of the REST API
// (Endpoint::handleRequest on a Hub with an in-memory store and a few runs in it).
//
// The input is the byte stream of one connection. It is read twice, as a connection reads it
// (parse the head, skip it, read the body by Content-Length or chunked, go on with the next
// pipelined request): once all at once and once in pieces of sizes derived from the input. Both
// readings must see the same requests and the same verdict, whatever the pieces. The requests are
// then answered; every answer must serialize to a well-formed response, and JSON bodies must be JSON.

#include "codec.h"
#include "endpoint.h"
#include "fuzzsupport.h"
#include "http.h"
#include "hub.h"
#include "memorystore.h"

#include <QJsonArray>
#include <QJsonObject>

#include <memory>

using namespace Runwatch;

namespace {

constexpr int MaxRequests = 16;
constexpr int MaxPieces = 512;
constexpr int MaxHeaderBytes = 8 * 1024;   // small, so that the fuzzer reaches the bound
constexpr qint64 MaxBodyBytes = 64 * 1024;

struct Outcome {
    enum Kind { Request, Upgrade, BadHead, BadFraming, BadChunked } kind = Request;
    int status = 0;
    HttpRequest request;

    bool operator==(const Outcome &o) const
    {
        return kind == o.kind && status == o.status && request.method == o.request.method
            && request.target == o.request.target && request.path == o.request.path
            && request.query == o.request.query && request.minorVersion == o.request.minorVersion
            && request.headers == o.request.headers && request.body == o.request.body;
    }
};

QByteArray describe(const QVector<Outcome> &outcomes)
{
    QByteArray out;
    for (const Outcome &o : outcomes) {
        out += "  kind=" + QByteArray::number(o.kind) + " status=" + QByteArray::number(o.status) + " "
            + o.request.method + " " + o.request.target.left(200) + " headers="
            + QByteArray::number(o.request.headers.size()) + " body=" + QByteArray::number(o.request.body.size())
            + ":" + o.request.body.left(100) + "\n";
    }
    return out;
}

// Reads `stream` as one connection does, receiving it in pieces of the given sizes (the last piece
// takes what is left). Stops at the first refusal, an upgrade, or MaxRequests requests.
QVector<Outcome> readConnection(const QByteArray &stream, const QVector<qsizetype> &pieces)
{
    QVector<Outcome> outcomes;
    QByteArray received; // received and not consumed yet
    qsizetype fed = 0;
    int piece = 0;
    auto receiveMore = [&] {
        if (fed >= stream.size())
            return false;
        const qsizetype n = piece < pieces.size() ? pieces.at(piece++) : stream.size() - fed;
        const qsizetype take = qMin(n, stream.size() - fed);
        received.append(stream.constData() + fed, take);
        fed += take;
        return true;
    };
    enum class State { Head, Body, Chunked } state = State::Head;
    Outcome current;
    qint64 length = 0;
    std::unique_ptr<Http::ChunkedDecoder> chunked;
    while (outcomes.size() < MaxRequests) {
        if (state == State::Head) {
            if (received.isEmpty() && !receiveMore())
                break;
            current = Outcome();
            // Like the connection: look at no more than the bound allows, leave it unread.
            const QByteArray head = received.left(MaxHeaderBytes + 4);
            const Http::HeadResult result = Http::parseHead(head, MaxHeaderBytes, &current.request);
            if (result.status == Http::ParseStatus::Incomplete) {
                if (!receiveMore())
                    break;
                continue;
            }
            if (result.status == Http::ParseStatus::Bad) {
                FUZZ_CHECK(result.httpStatus >= 400 && result.httpStatus < 600 && !result.message.isEmpty(),
                           result.message.toUtf8());
                current.kind = Outcome::BadHead;
                current.status = result.httpStatus;
                current.request = HttpRequest();
                outcomes.append(current);
                break;
            }
            FUZZ_CHECK(result.headLength > 0 && result.headLength <= head.size(), head);
            FUZZ_CHECK(!current.request.method.isEmpty() && current.request.path.startsWith('/'), head);
            if (current.request.isWebSocketUpgrade()) {
                current.kind = Outcome::Upgrade;
                outcomes.append(current);
                break;
            }
            received.remove(0, result.headLength);
            const Http::BodyFraming framing = Http::bodyFraming(current.request, MaxBodyBytes);
            if (!framing.ok) {
                FUZZ_CHECK(framing.httpStatus >= 400 && framing.httpStatus < 600, framing.message.toUtf8());
                current.kind = Outcome::BadFraming;
                current.status = framing.httpStatus;
                outcomes.append(current);
                break;
            }
            FUZZ_CHECK(framing.length >= 0 && framing.length <= MaxBodyBytes, head);
            if (framing.chunked) {
                chunked = std::make_unique<Http::ChunkedDecoder>(MaxBodyBytes);
                state = State::Chunked;
            } else {
                length = framing.length;
                state = State::Body;
            }
        }
        if (state == State::Body) {
            while (received.size() < length) {
                if (!receiveMore())
                    return outcomes; // the connection ends inside the body
            }
            current.request.body = received.left(length);
            received.remove(0, length);
            outcomes.append(current);
            state = State::Head;
        } else if (state == State::Chunked) {
            const Http::ParseStatus status = chunked->feed(received);
            if (status == Http::ParseStatus::Incomplete) {
                if (!receiveMore())
                    return outcomes;
                continue;
            }
            if (status == Http::ParseStatus::Bad) {
                current.kind = Outcome::BadChunked;
                current.status = chunked->httpStatus();
                FUZZ_CHECK(current.status >= 400 && current.status < 600, chunked->message().toUtf8());
                current.request = HttpRequest();
                outcomes.append(current);
                break;
            }
            current.request.body = chunked->takeBody();
            FUZZ_CHECK(current.request.body.size() <= MaxBodyBytes, QByteArray::number(current.request.body.size()));
            chunked.reset();
            outcomes.append(current);
            state = State::Head;
        }
    }
    return outcomes;
}

// A response as it goes on the wire: a status line, header lines without stray CR or LF, a
// Content-Length that matches, and for JSON a body that is JSON.
void checkResponse(const HttpRequest &request, const HttpResponse &response)
{
    const bool headOnly = request.method == "HEAD";
    const QByteArray wire = Http::serialize(response, request.keepAlive(), headOnly);
    const qsizetype end = wire.indexOf("\r\n\r\n");
    FUZZ_CHECK(end > 0, wire.left(2000));
    const QList<QByteArray> lines = wire.left(end).split('\n');
    const QByteArray statusLine = QByteArray("HTTP/1.1 ") + QByteArray::number(response.status) + ' ';
    FUZZ_CHECK(lines.first().startsWith(statusLine), wire.left(2000));
    FUZZ_CHECK(response.status >= 100 && response.status < 600, wire.left(2000));
    qint64 contentLength = -1;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines.at(i);
        if (i + 1 < lines.size()) {
            FUZZ_CHECK(line.endsWith('\r'), wire.left(2000));
            line.chop(1);
        }
        FUZZ_CHECK(!line.contains('\r') && !line.contains('\0'), wire.left(2000));
        if (i == 0)
            continue;
        const qsizetype colon = line.indexOf(": ");
        FUZZ_CHECK(colon > 0, line);
        if (line.startsWith("Content-Length: "))
            contentLength = line.mid(16).toLongLong();
    }
    const QByteArray body = wire.mid(end + 4);
    if (response.status == 204) {
        FUZZ_CHECK(contentLength < 0 && body.isEmpty(), wire.left(2000));
        return;
    }
    FUZZ_CHECK(contentLength == response.body.size(), wire.left(2000));
    FUZZ_CHECK(headOnly ? body.isEmpty() : body == response.body, wire.left(2000));
    if (response.contentType.startsWith("application/json")) {
        QJsonParseError error{};
        QJsonDocument::fromJson(response.body, &error);
        FUZZ_CHECK(error.error == QJsonParseError::NoError,
                   request.method + " " + request.target + "\n" + response.body.left(2000));
    }
    if (response.status >= 400 && response.contentType.startsWith("application/json")) {
        const QJsonObject error = QJsonDocument::fromJson(response.body).object().value(QLatin1String("error")).toObject();
        FUZZ_CHECK(!error.value(QLatin1String("code")).toString().isEmpty(), response.body.left(2000));
    }
}

// The query parameters the server reads, and the path as it splits it.
void checkRequestParts(const HttpRequest &request)
{
    static const QStringList keys = {QStringLiteral("since"), QStringLiteral("limit"), QStringLiteral("max_points"),
                                     QStringLiteral("format"), QStringLiteral("token"), QStringLiteral("replay")};
    for (const QString &key : keys) {
        bool present = false;
        const QString value = request.queryValue(key, &present);
        FUZZ_CHECK(present || value.isEmpty(), request.query);
    }
    QStringList segments;
    if (Http::splitPath(request.path, &segments)) {
        for (const QString &segment : segments)
            FUZZ_CHECK(!segment.contains(QChar(0)), request.path);
    }
    (void)request.keepAlive();
    (void)request.header("Authorization");
}

void seed(Hub *hub)
{
    const QByteArray events = R"([
        {"run":"r1","type":"run_started","data":{"name":"first","kind":"training","total_steps":10}},
        {"run":"r1","type":"metric","data":{"step":1,"loss":0.5,"train/loss":0.25,"acc":"NaN"}},
        {"run":"r1","type":"metric","data":{"step":2,"loss":0.4,"train/loss":"Infinity","acc":0.9}},
        {"run":"r1","type":"metric","data":{"step":3,"loss":"-Infinity","train/loss":0.2,"acc":0.95}},
        {"run":"r1","type":"step_started","step":"s1","data":{"name":"load"}},
        {"run":"r1","type":"log","data":{"level":"info","message":"hello"}},
        {"run":"r2","type":"run_started","data":{}},
        {"run":"r2","type":"run_completed","data":{}}
    ])";
    const PublishResult result = hub->publishJson(QJsonDocument::fromJson(events).array());
    FUZZ_CHECK(!result.error, result.error.message.toUtf8());
    hub->flush();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    FuzzSupport::ensureApplication();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray stream = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    // Pieces: mostly small, sometimes large, never more than MaxPieces of them.
    FuzzSupport::Random random(data, size);
    const qsizetype smallest = qMax<qsizetype>(1, qsizetype(size) / MaxPieces);
    const qsizetype largest = qMax<qsizetype>(smallest, random.between(0, 3) == 0 ? 4096 : 64);
    QVector<qsizetype> pieces;
    for (qsizetype total = 0; total < qsizetype(size) && pieces.size() < MaxPieces;) {
        pieces.append(random.between(smallest, largest));
        total += pieces.last();
    }
    const QVector<Outcome> whole = readConnection(stream, {});
    const QVector<Outcome> inPieces = readConnection(stream, pieces);
    FUZZ_CHECK(whole == inPieces, "all at once:\n" + describe(whole) + "in pieces:\n" + describe(inPieces));

    bool anyRequest = false;
    for (const Outcome &outcome : whole)
        anyRequest = anyRequest || outcome.kind == Outcome::Request;
    if (!anyRequest)
        return 0;

    ServerConfig config;
    config.token = QStringLiteral("admin-token");
    config.viewerToken = QStringLiteral("viewer-token");
    config.maxMessageBytes = MaxBodyBytes;
    config.memoryHistoryBytes = 4 * 1024 * 1024;
    Hub hub(config, std::make_unique<MemoryStore>(config.memoryHistoryBytes));
    seed(&hub);
    Endpoint endpoint(config, &hub);
    for (const Outcome &outcome : whole) {
        if (outcome.kind != Outcome::Request)
            continue;
        checkRequestParts(outcome.request);
        const HttpResponse response = endpoint.handleRequest(outcome.request, QStringLiteral("127.0.0.1"));
        checkResponse(outcome.request, response);
        hub.flush();
    }
    return 0;
}
