// Unit tests of the HTTP/1.1 request parsing and response writing (server/net/http.h): request heads,
// body framing, the chunked decoder, path decoding and serialization (RFC 9110 / 9112, and the
// brief's "request head over maxHeaderBytes -> 431", "body over maxMessageBytes -> 413").

#include "http.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace Runwatch;
using Http::ParseStatus;

Q_DECLARE_METATYPE(Runwatch::Http::ParseStatus)

// A byte array from a literal that may hold NUL bytes.
#define BYTES(literal) QByteArray(literal, int(sizeof(literal) - 1))

namespace {

constexpr int MaxHead = 8192;
constexpr qint64 MaxBody = 1 << 20;

QByteArray crlf(const QByteArray &text)
{
    QByteArray out = text;
    out.replace("\n", "\r\n");
    return out;
}

struct ParsedResponse {
    bool ok = false;
    QByteArray statusLine;
    QList<QPair<QByteArray, QByteArray>> headers;
    QByteArray body;

    QByteArray header(const QByteArray &name) const
    {
        for (const auto &h : headers) {
            if (h.first.compare(name, Qt::CaseInsensitive) == 0)
                return h.second;
        }
        return {};
    }
    int count(const QByteArray &name) const
    {
        int n = 0;
        for (const auto &h : headers)
            n += h.first.compare(name, Qt::CaseInsensitive) == 0 ? 1 : 0;
        return n;
    }
};

// An independent reader of a serialized response.
ParsedResponse readResponse(const QByteArray &bytes)
{
    ParsedResponse r;
    const qsizetype end = bytes.indexOf("\r\n\r\n");
    if (end < 0)
        return r;
    const QList<QByteArray> lines = bytes.left(end).split('\n');
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QByteArray line = lines.at(i);
        if (!line.endsWith('\r') && i + 1 < lines.size())
            return r; // bare LF
        if (line.endsWith('\r'))
            line.chop(1);
        if (i == 0) {
            r.statusLine = line;
            continue;
        }
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return r;
        r.headers.append(qMakePair(line.left(colon), line.mid(colon + 1).trimmed()));
    }
    r.body = bytes.mid(end + 4);
    r.ok = true;
    return r;
}

ParseStatus feedAll(Http::ChunkedDecoder &decoder, QByteArray &buffer)
{
    return decoder.feed(buffer);
}

} // namespace

class TestHttp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parseHeadComplete();
    void parseHeadIncomplete_data();
    void parseHeadIncomplete();
    void parseHeadBad_data();
    void parseHeadBad();
    void parseHeadLimit_data();
    void parseHeadLimit();
    void parseHeadPipelined();
    void headerCaseInsensitive();
    void keepAliveAndUpgrade_data();
    void keepAliveAndUpgrade();
    void queryValue_data();
    void queryValue();

    void bodyFraming_data();
    void bodyFraming();

    void chunkedWhole_data();
    void chunkedWhole();
    void chunkedByteByByte_data();
    void chunkedByteByByte();
    void chunkedInPieces();
    void chunkedBad_data();
    void chunkedBad();
    void chunkedTooLarge();
    void chunkedLeavesFollowingBytes();

    void splitPath_data();
    void splitPath();

    void serialize_data();
    void serialize();
    void serializeHeadOnlyAnd204();
    void errorResponse();
};

// ---------------------------------------------------------------------------------------------
// Request heads

void TestHttp::parseHeadComplete()
{
    const QByteArray head = crlf("GET /api/runs/r1/events?since=5&limit=10 HTTP/1.1\n"
                                 "Host: 127.0.0.1:7600\n"
                                 "User-Agent: test/1.0\n"
                                 "Accept:   application/json  \n"
                                 "X-Empty:\n"
                                 "\n");
    HttpRequest request;
    const Http::HeadResult result = Http::parseHead(head, MaxHead, &request);
    QCOMPARE(result.status, ParseStatus::Complete);
    QCOMPARE(result.headLength, int(head.size()));
    QCOMPARE(request.method, QByteArray("GET"));
    QCOMPARE(request.target, QByteArray("/api/runs/r1/events?since=5&limit=10"));
    QCOMPARE(request.path, QByteArray("/api/runs/r1/events"));
    QCOMPARE(request.query, QByteArray("since=5&limit=10"));
    QCOMPARE(request.minorVersion, 1);
    QCOMPARE(request.headers.size(), qsizetype(4));
    QCOMPARE(request.header("Host"), QByteArray("127.0.0.1:7600"));
    // Optional whitespace around a field value is not part of it.
    QCOMPARE(request.header("Accept"), QByteArray("application/json"));
    QVERIFY(request.hasHeader("X-Empty"));
    QCOMPARE(request.header("X-Empty"), QByteArray());
    QVERIFY(!request.hasHeader("Cookie"));

    HttpRequest old;
    const QByteArray head10 = crlf("POST /api/events HTTP/1.0\nContent-Length: 2\n\n{}");
    const Http::HeadResult r10 = Http::parseHead(head10, MaxHead, &old);
    QCOMPARE(r10.status, ParseStatus::Complete);
    QCOMPARE(r10.headLength, int(head10.size() - 2));
    QCOMPARE(old.minorVersion, 0);
    QCOMPARE(old.method, QByteArray("POST"));
    QVERIFY(old.query.isEmpty());
}

void TestHttp::parseHeadIncomplete_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::newRow("nothing") << QByteArray();
    QTest::newRow("part of the request line") << QByteArray("GET /api/ru");
    QTest::newRow("request line only") << QByteArray("GET / HTTP/1.1\r\n");
    QTest::newRow("headers without blank line") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n");
    QTest::newRow("blank line half there") << QByteArray("GET / HTTP/1.1\r\nHost: x\r\n\r");
}

void TestHttp::parseHeadIncomplete()
{
    QFETCH(QByteArray, bytes);
    HttpRequest request;
    const Http::HeadResult result = Http::parseHead(bytes, MaxHead, &request);
    QCOMPARE(result.status, ParseStatus::Incomplete);
}

void TestHttp::parseHeadBad_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<int>("httpStatus");

    QTest::newRow("two-part request line") << crlf("GET /\nHost: x\n\n") << 400;
    QTest::newRow("four-part request line") << crlf("GET / HTTP/1.1 extra\nHost: x\n\n") << 400;
    QTest::newRow("double space") << crlf("GET  / HTTP/1.1\nHost: x\n\n") << 400;
    QTest::newRow("empty request line") << crlf(" \nHost: x\n\n") << 400;
    QTest::newRow("method with bad char") << crlf("GE(T / HTTP/1.1\nHost: x\n\n") << 400;
    QTest::newRow("relative target") << crlf("GET api/runs HTTP/1.1\nHost: x\n\n") << 400;
    QTest::newRow("control char in target") << QByteArray("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n") << 400;
    QTest::newRow("not HTTP") << crlf("GET / FTP/1.1\nHost: x\n\n") << 400;
    QTest::newRow("HTTP/2.0") << crlf("GET / HTTP/2.0\nHost: x\n\n") << 505;
    QTest::newRow("HTTP/1.2") << crlf("GET / HTTP/1.2\nHost: x\n\n") << 505;
    QTest::newRow("HTTP/0.9") << crlf("GET / HTTP/0.9\nHost: x\n\n") << 505;
    QTest::newRow("lowercase http") << crlf("GET / http/1.1\nHost: x\n\n") << 400;
    QTest::newRow("HTTP/1.1 without Host") << crlf("GET / HTTP/1.1\nAccept: */*\n\n") << 400;
    QTest::newRow("header without colon") << crlf("GET / HTTP/1.1\nHost: x\nBroken\n\n") << 400;
    QTest::newRow("space before colon") << crlf("GET / HTTP/1.1\nHost : x\n\n") << 400;
    QTest::newRow("empty header name") << crlf("GET / HTTP/1.1\nHost: x\n: v\n\n") << 400;
    QTest::newRow("folded header line") << crlf("GET / HTTP/1.1\nHost: x\nX-A: a\n b\n\n") << 400;
    QTest::newRow("bare LF line ending") << QByteArray("GET / HTTP/1.1\nHost: x\r\n\r\n") << 400;
    QTest::newRow("NUL in header value") << BYTES("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n") << 400;
}

void TestHttp::parseHeadBad()
{
    QFETCH(QByteArray, bytes);
    QFETCH(int, httpStatus);
    HttpRequest request;
    const Http::HeadResult result = Http::parseHead(bytes, MaxHead, &request);
    QCOMPARE(result.status, ParseStatus::Bad);
    QCOMPARE(result.httpStatus, httpStatus);
    QVERIFY(!result.message.isEmpty());
}

void TestHttp::parseHeadLimit_data()
{
    QTest::addColumn<int>("headSize");      // exact size of a complete head; 0: incomplete head
    QTest::addColumn<int>("incompleteSize"); // bytes of a head with no blank line yet
    QTest::addColumn<int>("maxHeaderBytes");
    QTest::addColumn<ParseStatus>("status");
    QTest::addColumn<int>("httpStatus");

    QTest::newRow("complete, well under") << 200 << 0 << 1024 << ParseStatus::Complete << 0;
    QTest::newRow("complete, exactly at limit") << 1024 << 0 << 1024 << ParseStatus::Complete << 0;
    QTest::newRow("complete, one byte over") << 1025 << 0 << 1024 << ParseStatus::Bad << 431;
    QTest::newRow("complete, far over") << 20000 << 0 << 1024 << ParseStatus::Bad << 431;
    QTest::newRow("incomplete, under") << 0 << 1000 << 1024 << ParseStatus::Incomplete << 0;
    QTest::newRow("incomplete, over") << 0 << 1100 << 1024 << ParseStatus::Bad << 431;
    QTest::newRow("incomplete, far over") << 0 << 100000 << 1024 << ParseStatus::Bad << 431;
}

void TestHttp::parseHeadLimit()
{
    QFETCH(int, headSize);
    QFETCH(int, incompleteSize);
    QFETCH(int, maxHeaderBytes);
    QFETCH(ParseStatus, status);
    QFETCH(int, httpStatus);

    const QByteArray prefix = "GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: ";
    QByteArray bytes;
    if (headSize > 0) {
        const int pad = headSize - int(prefix.size()) - 4; // "\r\n\r\n"
        QVERIFY(pad > 0);
        bytes = prefix + QByteArray(pad, 'p') + "\r\n\r\n";
        QCOMPARE(bytes.size(), qsizetype(headSize));
    } else {
        bytes = prefix + QByteArray(incompleteSize - int(prefix.size()), 'p');
    }
    HttpRequest request;
    const Http::HeadResult result = Http::parseHead(bytes, maxHeaderBytes, &request);
    QCOMPARE(result.status, status);
    if (status == ParseStatus::Bad)
        QCOMPARE(result.httpStatus, httpStatus);
    if (status == ParseStatus::Complete)
        QCOMPARE(result.headLength, headSize);
}

void TestHttp::parseHeadPipelined()
{
    const QByteArray first = crlf("GET /healthz HTTP/1.1\nHost: localhost\n\n");
    const QByteArray second = crlf("GET /api/runs HTTP/1.1\nHost: localhost\n\n");
    const QByteArray both = first + second;
    HttpRequest request;
    const Http::HeadResult result = Http::parseHead(both, MaxHead, &request);
    QCOMPARE(result.status, ParseStatus::Complete);
    QCOMPARE(result.headLength, int(first.size()));
    QCOMPARE(request.path, QByteArray("/healthz"));

    HttpRequest next;
    const Http::HeadResult result2 = Http::parseHead(both.mid(result.headLength), MaxHead, &next);
    QCOMPARE(result2.status, ParseStatus::Complete);
    QCOMPARE(next.path, QByteArray("/api/runs"));
}

void TestHttp::headerCaseInsensitive()
{
    const QByteArray head = crlf("GET / HTTP/1.1\n"
                                 "hOsT: localhost\n"
                                 "content-LENGTH: 12\n"
                                 "AUTHORIZATION: Bearer s3cret\n"
                                 "Sec-WebSocket-Key: abc==\n\n");
    HttpRequest request;
    QCOMPARE(Http::parseHead(head, MaxHead, &request).status, ParseStatus::Complete);
    for (const char *name : {"host", "HOST", "Host"})
        QCOMPARE(request.header(name), QByteArray("localhost"));
    QCOMPARE(request.header("Content-Length"), QByteArray("12"));
    QCOMPARE(request.header("authorization"), QByteArray("Bearer s3cret"));
    QCOMPARE(request.header("sec-websocket-key"), QByteArray("abc=="));
    QVERIFY(request.hasHeader("CONTENT-length"));
    // Values keep their case.
    QVERIFY(request.header("Authorization").contains("Bearer s3cret"));
}

void TestHttp::keepAliveAndUpgrade_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<bool>("keepAlive");
    QTest::addColumn<bool>("upgrade");

    QTest::newRow("1.1 default") << crlf("GET / HTTP/1.1\nHost: x\n\n") << true << false;
    QTest::newRow("1.1 close") << crlf("GET / HTTP/1.1\nHost: x\nConnection: close\n\n") << false << false;
    QTest::newRow("1.1 Close in a list") << crlf("GET / HTTP/1.1\nHost: x\nConnection: foo, Close\n\n") << false << false;
    QTest::newRow("1.0 default") << crlf("GET / HTTP/1.0\n\n") << false << false;
    QTest::newRow("1.0 keep-alive") << crlf("GET / HTTP/1.0\nConnection: Keep-Alive\n\n") << true << false;
    QTest::newRow("websocket upgrade")
        << crlf("GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n\n") << true << true;
    QTest::newRow("websocket upgrade, browser style")
        << crlf("GET /ws HTTP/1.1\nHost: x\nUpgrade: WebSocket\nConnection: keep-alive, Upgrade\n\n") << true << true;
    QTest::newRow("upgrade without Connection") << crlf("GET /ws HTTP/1.1\nHost: x\nUpgrade: websocket\n\n") << true << false;
    QTest::newRow("upgrade to h2c") << crlf("GET / HTTP/1.1\nHost: x\nUpgrade: h2c\nConnection: Upgrade\n\n") << true << false;
}

void TestHttp::keepAliveAndUpgrade()
{
    QFETCH(QByteArray, head);
    QFETCH(bool, keepAlive);
    QFETCH(bool, upgrade);
    HttpRequest request;
    QCOMPARE(Http::parseHead(head, MaxHead, &request).status, ParseStatus::Complete);
    QCOMPARE(request.keepAlive(), keepAlive);
    QCOMPARE(request.isWebSocketUpgrade(), upgrade);
}

void TestHttp::queryValue_data()
{
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QString>("key");
    QTest::addColumn<bool>("present");
    QTest::addColumn<QString>("value");

    QTest::newRow("plain") << QByteArray("/ws?since=42") << QStringLiteral("since") << true << QStringLiteral("42");
    QTest::newRow("second of two") << QByteArray("/ws?since=42&replay=0") << QStringLiteral("replay") << true << QStringLiteral("0");
    QTest::newRow("absent") << QByteArray("/ws?since=42") << QStringLiteral("token") << false << QString();
    QTest::newRow("no query") << QByteArray("/ws") << QStringLiteral("since") << false << QString();
    QTest::newRow("key without value") << QByteArray("/ws?replay") << QStringLiteral("replay") << true << QString();
    QTest::newRow("empty value") << QByteArray("/ws?token=") << QStringLiteral("token") << true << QString();
    QTest::newRow("%20") << QByteArray("/ws?token=a%20b") << QStringLiteral("token") << true << QStringLiteral("a b");
    QTest::newRow("%2B") << QByteArray("/ws?token=a%2Bb") << QStringLiteral("token") << true << QStringLiteral("a+b");
    QTest::newRow("%26 inside a value") << QByteArray("/ws?token=a%26b&since=1") << QStringLiteral("token") << true << QStringLiteral("a&b");
    QTest::newRow("%3D inside a value") << QByteArray("/ws?token=a%3Db") << QStringLiteral("token") << true << QStringLiteral("a=b");
    QTest::newRow("%25") << QByteArray("/ws?token=100%25") << QStringLiteral("token") << true << QStringLiteral("100%");
    QTest::newRow("%2F") << QByteArray("/ws?token=a%2Fb") << QStringLiteral("token") << true << QStringLiteral("a/b");
    QTest::newRow("lowercase hex") << QByteArray("/ws?token=%e2%9c%93") << QStringLiteral("token") << true
                                   << QString::fromUtf8("\xe2\x9c\x93");
    QTest::newRow("utf-8") << QByteArray("/ws?name=caf%C3%A9") << QStringLiteral("name") << true
                           << QString::fromUtf8("caf\xc3\xa9");
    QTest::newRow("base64 token") << QByteArray("/ws?token=YWJj%2Fd%2Be%3D%3D") << QStringLiteral("token") << true
                                  << QStringLiteral("YWJj/d+e==");
    QTest::newRow("encoded key") << QByteArray("/ws?max%5Fpoints=10") << QStringLiteral("max_points") << true
                                 << QStringLiteral("10");
    QTest::newRow("fragment ignored") << QByteArray("/ws?since=7#frag") << QStringLiteral("since") << true << QStringLiteral("7");
}

void TestHttp::queryValue()
{
    QFETCH(QByteArray, target);
    QFETCH(QString, key);
    QFETCH(bool, present);
    QFETCH(QString, value);
    HttpRequest request;
    const QByteArray head = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
    QCOMPARE(Http::parseHead(head, MaxHead, &request).status, ParseStatus::Complete);
    bool isPresent = !present;
    QCOMPARE(request.queryValue(key, &isPresent), value);
    QCOMPARE(isPresent, present);
    QCOMPARE(request.queryValue(key), value);
}

// ---------------------------------------------------------------------------------------------
// Body framing

void TestHttp::bodyFraming_data()
{
    QTest::addColumn<QByteArray>("headers");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<int>("httpStatus");
    QTest::addColumn<qint64>("length");
    QTest::addColumn<bool>("chunked");

    QTest::newRow("no body") << QByteArray() << true << 0 << qint64(0) << false;
    QTest::newRow("Content-Length 10") << QByteArray("Content-Length: 10\n") << true << 0 << qint64(10) << false;
    QTest::newRow("Content-Length 0") << QByteArray("Content-Length: 0\n") << true << 0 << qint64(0) << false;
    QTest::newRow("lowercase name") << QByteArray("content-length: 7\n") << true << 0 << qint64(7) << false;
    QTest::newRow("leading zeros") << QByteArray("Content-Length: 007\n") << true << 0 << qint64(7) << false;
    QTest::newRow("at the limit") << QByteArray("Content-Length: 1048576\n") << true << 0 << qint64(MaxBody) << false;
    QTest::newRow("same length twice") << QByteArray("Content-Length: 5\nContent-Length: 5\n") << true << 0 << qint64(5) << false;
    QTest::newRow("chunked") << QByteArray("Transfer-Encoding: chunked\n") << true << 0 << qint64(0) << true;
    QTest::newRow("Chunked, any case") << QByteArray("transfer-encoding: Chunked\n") << true << 0 << qint64(0) << true;

    QTest::newRow("over the limit") << QByteArray("Content-Length: 1048577\n") << false << 413 << qint64(0) << false;
    QTest::newRow("far over the limit") << QByteArray("Content-Length: 99999999999\n") << false << 413 << qint64(0) << false;
    QTest::newRow("both") << QByteArray("Content-Length: 5\nTransfer-Encoding: chunked\n") << false << 400 << qint64(0) << false;
    QTest::newRow("both, chunked first") << QByteArray("Transfer-Encoding: chunked\nContent-Length: 5\n") << false << 400 << qint64(0) << false;
    QTest::newRow("conflicting lengths") << QByteArray("Content-Length: 5\nContent-Length: 6\n") << false << 400 << qint64(0) << false;
    QTest::newRow("length not a number") << QByteArray("Content-Length: abc\n") << false << 400 << qint64(0) << false;
    QTest::newRow("negative length") << QByteArray("Content-Length: -1\n") << false << 400 << qint64(0) << false;
    QTest::newRow("plus sign") << QByteArray("Content-Length: +5\n") << false << 400 << qint64(0) << false;
    QTest::newRow("hex length") << QByteArray("Content-Length: 0x10\n") << false << 400 << qint64(0) << false;
    QTest::newRow("two numbers") << QByteArray("Content-Length: 1 2\n") << false << 400 << qint64(0) << false;
    QTest::newRow("list of lengths") << QByteArray("Content-Length: 5, 6\n") << false << 400 << qint64(0) << false;
    QTest::newRow("empty length") << QByteArray("Content-Length:\n") << false << 400 << qint64(0) << false;
    QTest::newRow("fractional") << QByteArray("Content-Length: 1.5\n") << false << 400 << qint64(0) << false;
    QTest::newRow("huge digits") << QByteArray("Content-Length: 99999999999999999999999\n") << false << -1 << qint64(0) << false;
    QTest::newRow("gzip coding") << QByteArray("Transfer-Encoding: gzip\n") << false << 501 << qint64(0) << false;
    // Several Transfer-Encoding headers are one list: only a lone "chunked" is taken.
    QTest::newRow("second header adds gzip") << QByteArray("Transfer-Encoding: chunked\nTransfer-Encoding: gzip\n") << false << 501 << qint64(0) << false;
    QTest::newRow("gzip, then chunked") << QByteArray("Transfer-Encoding: gzip\nTransfer-Encoding: chunked\n") << false << 501 << qint64(0) << false;
    QTest::newRow("chunked in two headers") << QByteArray("Transfer-Encoding: chunked\nTransfer-Encoding: chunked\n") << false << 400 << qint64(0) << false;
    QTest::newRow("chunked twice in a list") << QByteArray("Transfer-Encoding: chunked, chunked\n") << false << 400 << qint64(0) << false;
    QTest::newRow("list gzip, chunked") << QByteArray("Transfer-Encoding: gzip, chunked\n") << false << 501 << qint64(0) << false;
    QTest::newRow("empty second header") << QByteArray("Transfer-Encoding: chunked\nTransfer-Encoding:\n") << true << 0 << qint64(0) << true;
    QTest::newRow("empty coding only") << QByteArray("Transfer-Encoding:\n") << false << 400 << qint64(0) << false;
    QTest::newRow("chunked with spaces") << QByteArray("Transfer-Encoding:  chunked , \n") << true << 0 << qint64(0) << true;
}

void TestHttp::bodyFraming()
{
    QFETCH(QByteArray, headers);
    QFETCH(bool, ok);
    QFETCH(int, httpStatus);
    QFETCH(qint64, length);
    QFETCH(bool, chunked);

    HttpRequest request;
    const QByteArray head = "POST /api/events HTTP/1.1\r\nHost: localhost\r\n" + crlf(headers) + "\r\n";
    QCOMPARE(Http::parseHead(head, MaxHead, &request).status, ParseStatus::Complete);
    const Http::BodyFraming framing = Http::bodyFraming(request, MaxBody);
    QCOMPARE(framing.ok, ok);
    if (ok) {
        QCOMPARE(framing.length, length);
        QCOMPARE(framing.chunked, chunked);
    } else {
        if (httpStatus == -1) // either answer is right: the value is absurd and over the limit
            QVERIFY2(framing.httpStatus == 400 || framing.httpStatus == 413,
                     qPrintable(QString::number(framing.httpStatus)));
        else
            QCOMPARE(framing.httpStatus, httpStatus);
        QVERIFY(!framing.message.isEmpty());
    }
}

// ---------------------------------------------------------------------------------------------
// Chunked bodies

void TestHttp::chunkedWhole_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("two chunks") << QByteArray("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") << QByteArray("hello world");
    QTest::newRow("empty body") << QByteArray("0\r\n\r\n") << QByteArray();
    QTest::newRow("uppercase hex") << QByteArray("A\r\n0123456789\r\n0\r\n\r\n") << QByteArray("0123456789");
    QTest::newRow("lowercase hex") << QByteArray("a\r\n0123456789\r\n0\r\n\r\n") << QByteArray("0123456789");
    QTest::newRow("leading zeros") << QByteArray("0005\r\nhello\r\n000\r\n\r\n") << QByteArray("hello");
    QTest::newRow("extensions") << QByteArray("5;name=value\r\nhello\r\n1;a;b=\"c\"\r\n!\r\n0;last\r\n\r\n")
                                << QByteArray("hello!");
    QTest::newRow("trailers") << QByteArray("3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nX-Other: y\r\n\r\n")
                              << QByteArray("abc");
    QTest::newRow("extension and trailer") << QByteArray("2;x=1\r\n{}\r\n0;y=2\r\nExpires: never\r\n\r\n")
                                           << QByteArray("{}");
    QTest::newRow("CRLF inside data") << QByteArray("4\r\n\r\n\r\n\r\n0\r\n\r\n") << QByteArray("\r\n\r\n");
    QTest::newRow("binary data") << BYTES("3\r\n\x00\x01\x02\r\n0\r\n\r\n") << BYTES("\x00\x01\x02");
    QTest::newRow("many small chunks") << QByteArray("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n1\r\nd\r\n0\r\n\r\n") << QByteArray("abcd");
}

void TestHttp::chunkedWhole()
{
    QFETCH(QByteArray, wire);
    QFETCH(QByteArray, body);
    Http::ChunkedDecoder decoder(MaxBody);
    QByteArray buffer = wire;
    QCOMPARE(feedAll(decoder, buffer), ParseStatus::Complete);
    QVERIFY(buffer.isEmpty());
    QCOMPARE(decoder.takeBody(), body);
}

void TestHttp::chunkedByteByByte_data()
{
    chunkedWhole_data();
}

void TestHttp::chunkedByteByByte()
{
    QFETCH(QByteArray, wire);
    QFETCH(QByteArray, body);
    Http::ChunkedDecoder decoder(MaxBody);
    QByteArray buffer;
    for (qsizetype i = 0; i < wire.size(); ++i) {
        buffer.append(wire.at(i));
        const ParseStatus status = decoder.feed(buffer);
        if (i + 1 < wire.size()) {
            QVERIFY2(status == ParseStatus::Incomplete,
                     qPrintable(QStringLiteral("status %1 after byte %2 of %3")
                                    .arg(int(status)).arg(i + 1).arg(wire.size())));
        } else {
            QCOMPARE(status, ParseStatus::Complete);
        }
    }
    QVERIFY(buffer.isEmpty());
    QCOMPARE(decoder.takeBody(), body);
}

void TestHttp::chunkedInPieces()
{
    // A bigger body cut at every possible piece size, with an extension and a trailer.
    QByteArray expected;
    QByteArray wire;
    for (int i = 0; i < 40; ++i) {
        const QByteArray chunk(i * 7 + 1, char('a' + i % 26));
        expected += chunk;
        wire += QByteArray::number(chunk.size(), 16) + (i % 3 == 0 ? QByteArray(";ext=" + QByteArray::number(i)) : QByteArray())
            + "\r\n" + chunk + "\r\n";
    }
    wire += "0\r\nX-Trailer: done\r\n\r\n";

    for (int piece : {2, 3, 5, 7, 64, 1000}) {
        Http::ChunkedDecoder decoder(MaxBody);
        QByteArray buffer;
        ParseStatus status = ParseStatus::Incomplete;
        for (qsizetype at = 0; at < wire.size(); at += piece) {
            QCOMPARE(status, ParseStatus::Incomplete);
            buffer.append(wire.mid(at, piece));
            status = decoder.feed(buffer);
            QVERIFY2(status != ParseStatus::Bad, qPrintable(decoder.message()));
        }
        QCOMPARE(status, ParseStatus::Complete);
        QVERIFY(buffer.isEmpty());
        QCOMPARE(decoder.takeBody(), expected);
    }
}

void TestHttp::chunkedBad_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<int>("httpStatus");

    QTest::newRow("not hex") << QByteArray("zz\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("negative") << QByteArray("-5\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("plus sign") << QByteArray("+5\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("0x prefix") << QByteArray("0x5\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("empty size line") << QByteArray("\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("only an extension") << QByteArray(";x=1\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("size with junk") << QByteArray("5g\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("size overflowing 64 bits") << QByteArray("10000000000000000\r\nx\r\n") << -1;
    QTest::newRow("data longer than size") << QByteArray("3\r\nhello\r\n0\r\n\r\n") << 400;
    QTest::newRow("no CRLF after data") << QByteArray("5\r\nhelloXX0\r\n\r\n") << 400;
    QTest::newRow("size line too long") << QByteArray("5;" + QByteArray(5000, 'x')) << 400;
}

void TestHttp::chunkedBad()
{
    QFETCH(QByteArray, wire);
    QFETCH(int, httpStatus);
    Http::ChunkedDecoder decoder(MaxBody);
    QByteArray buffer = wire;
    QCOMPARE(decoder.feed(buffer), ParseStatus::Bad);
    if (httpStatus == -1)
        QVERIFY2(decoder.httpStatus() == 400 || decoder.httpStatus() == 413,
                 qPrintable(QString::number(decoder.httpStatus())));
    else
        QCOMPARE(decoder.httpStatus(), httpStatus);
    QVERIFY(!decoder.message().isEmpty());
}

void TestHttp::chunkedTooLarge()
{
    // One chunk announcing more than the limit is refused before its data arrives.
    {
        Http::ChunkedDecoder decoder(100);
        QByteArray buffer("65\r\n"); // 101
        QCOMPARE(decoder.feed(buffer), ParseStatus::Bad);
        QCOMPARE(decoder.httpStatus(), 413);
    }
    // Many chunks that add up to more than the limit.
    {
        Http::ChunkedDecoder decoder(100);
        QByteArray buffer;
        for (int i = 0; i < 10; ++i)
            buffer += "b\r\n" + QByteArray(11, 'x') + "\r\n"; // 110 bytes in all
        buffer += "0\r\n\r\n";
        QCOMPARE(decoder.feed(buffer), ParseStatus::Bad);
        QCOMPARE(decoder.httpStatus(), 413);
    }
    // Exactly at the limit is fine.
    {
        Http::ChunkedDecoder decoder(100);
        QByteArray buffer = "64\r\n" + QByteArray(100, 'y') + "\r\n0\r\n\r\n";
        QCOMPARE(decoder.feed(buffer), ParseStatus::Complete);
        QCOMPARE(decoder.takeBody().size(), qsizetype(100));
    }
}

void TestHttp::chunkedLeavesFollowingBytes()
{
    // A pipelined request after the body stays in the buffer.
    Http::ChunkedDecoder decoder(MaxBody);
    const QByteArray next = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    QByteArray buffer = "2\r\n[]\r\n0\r\n\r\n" + next;
    QCOMPARE(decoder.feed(buffer), ParseStatus::Complete);
    QCOMPARE(buffer, next);
    QCOMPARE(decoder.takeBody(), QByteArray("[]"));
}

// ---------------------------------------------------------------------------------------------
// Paths

void TestHttp::splitPath_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QStringList>("segments");

    QTest::newRow("runs") << QByteArray("/api/runs") << true << QStringList{QStringLiteral("api"), QStringLiteral("runs")};
    QTest::newRow("trailing slash") << QByteArray("/api/runs/") << true << QStringList{QStringLiteral("api"), QStringLiteral("runs")};
    QTest::newRow("run id") << QByteArray("/api/runs/r1/metrics/loss") << true
                            << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QStringLiteral("r1"),
                                           QStringLiteral("metrics"), QStringLiteral("loss")};
    QTest::newRow("run id with allowed chars") << QByteArray("/ws/runs/a.b_c:d-e") << true
                                               << QStringList{QStringLiteral("ws"), QStringLiteral("runs"), QStringLiteral("a.b_c:d-e")};
    QTest::newRow("%20") << QByteArray("/api/runs/a%20b") << true
                         << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QStringLiteral("a b")};
    QTest::newRow("%2F stays inside its segment") << QByteArray("/api/runs/r1/metrics/train%2Floss") << true
                                                  << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QStringLiteral("r1"),
                                                                 QStringLiteral("metrics"), QStringLiteral("train/loss")};
    QTest::newRow("%3A") << QByteArray("/api/runs/a%3Ab") << true
                         << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QStringLiteral("a:b")};
    QTest::newRow("lowercase hex utf-8") << QByteArray("/api/runs/caf%c3%a9") << true
                                         << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QString::fromUtf8("caf\xc3\xa9")};
    QTest::newRow("raw utf-8") << QByteArray("/api/runs/caf\xc3\xa9") << true
                               << QStringList{QStringLiteral("api"), QStringLiteral("runs"), QString::fromUtf8("caf\xc3\xa9")};
    QTest::newRow("4-byte utf-8") << QByteArray("/m/%F0%9F%98%80") << true
                                  << QStringList{QStringLiteral("m"), QString::fromUtf8("\xf0\x9f\x98\x80")};
    QTest::newRow("%25") << QByteArray("/m/100%25") << true << QStringList{QStringLiteral("m"), QStringLiteral("100%")};
    QTest::newRow("empty middle segment") << QByteArray("/api//runs") << true
                                          << QStringList{QStringLiteral("api"), QString(), QStringLiteral("runs")};

    QTest::newRow("invalid utf-8 %FF") << QByteArray("/api/runs/%FF") << false << QStringList();
    QTest::newRow("truncated utf-8") << QByteArray("/api/runs/caf%C3") << false << QStringList();
    QTest::newRow("overlong slash") << QByteArray("/api/runs/%C0%AF") << false << QStringList();
    QTest::newRow("lone surrogate") << QByteArray("/api/runs/%ED%A0%80") << false << QStringList();
    QTest::newRow("raw invalid utf-8") << QByteArray("/api/runs/\xff") << false << QStringList();
    QTest::newRow("NUL") << QByteArray("/api/runs/a%00b") << false << QStringList();
    QTest::newRow("NUL alone") << QByteArray("/api/runs/%00") << false << QStringList();
}

void TestHttp::splitPath()
{
    QFETCH(QByteArray, path);
    QFETCH(bool, ok);
    QFETCH(QStringList, segments);
    QStringList out;
    QCOMPARE(Http::splitPath(path, &out), ok);
    if (ok)
        QCOMPARE(out, segments);
}

// ---------------------------------------------------------------------------------------------
// Responses

void TestHttp::serialize_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("reason");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("keepAlive");

    QTest::newRow("200") << 200 << QByteArray("OK") << QByteArray(R"({"status":"ok"})") << true;
    QTest::newRow("200 close") << 200 << QByteArray("OK") << QByteArray("[]") << false;
    QTest::newRow("400") << 400 << QByteArray("Bad Request") << QByteArray(R"({"error":{}})") << true;
    QTest::newRow("401") << 401 << QByteArray("Unauthorized") << QByteArray("{}") << true;
    QTest::newRow("403") << 403 << QByteArray("Forbidden") << QByteArray("{}") << true;
    QTest::newRow("404") << 404 << QByteArray("Not Found") << QByteArray("{}") << true;
    QTest::newRow("405") << 405 << QByteArray("Method Not Allowed") << QByteArray("{}") << true;
    QTest::newRow("413") << 413 << QByteArray() << QByteArray("{}") << false;
    QTest::newRow("429") << 429 << QByteArray("Too Many Requests") << QByteArray("{}") << true;
    QTest::newRow("431") << 431 << QByteArray("Request Header Fields Too Large") << QByteArray("{}") << false;
    QTest::newRow("500") << 500 << QByteArray("Internal Server Error") << QByteArray("{}") << false;
    QTest::newRow("503") << 503 << QByteArray("Service Unavailable") << QByteArray("{}") << true;
    QTest::newRow("505") << 505 << QByteArray("HTTP Version Not Supported") << QByteArray("{}") << false;
    QTest::newRow("empty body") << 200 << QByteArray("OK") << QByteArray() << true;
    QTest::newRow("binary body") << 200 << QByteArray("OK") << BYTES("a\0\r\n\r\nb") << true;
    QTest::newRow("utf-8 body") << 200 << QByteArray("OK") << QByteArray("{\"t\":\"caf\xc3\xa9\"}") << true;
}

void TestHttp::serialize()
{
    QFETCH(int, status);
    QFETCH(QByteArray, reason);
    QFETCH(QByteArray, body);
    QFETCH(bool, keepAlive);

    HttpResponse response = HttpResponse::json(status, body);
    response.addHeader("X-Runwatch-Next-Since", "42");
    response.addHeader("Access-Control-Allow-Origin", "http://example.test");
    const QByteArray bytes = Http::serialize(response, keepAlive, false);
    const ParsedResponse r = readResponse(bytes);
    QVERIFY2(r.ok, bytes.left(300).constData());

    QVERIFY2(r.statusLine.startsWith(QByteArray("HTTP/1.1 " + QByteArray::number(status) + " ")), r.statusLine.constData());
    if (!reason.isEmpty())
        QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 " + QByteArray::number(status) + " " + reason));
    else // RFC 9110 renamed 413 to "Content Too Large"; both are fine
        QVERIFY2(r.statusLine.size() > 13, r.statusLine.constData());

    QCOMPARE(r.count("Content-Length"), 1);
    QCOMPARE(r.header("Content-Length"), QByteArray::number(body.size()));
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(r.header("X-Runwatch-Next-Since"), QByteArray("42"));
    QCOMPARE(r.header("Access-Control-Allow-Origin"), QByteArray("http://example.test"));
    QCOMPARE(r.count("Connection"), 1);
    QCOMPARE(r.header("Connection").toLower(), keepAlive ? QByteArray("keep-alive") : QByteArray("close"));
    QCOMPARE(r.body, body);
}

void TestHttp::serializeHeadOnlyAnd204()
{
    const QByteArray body = R"({"status":"ok","version":"x"})";
    HttpResponse response = HttpResponse::json(200, body);
    response.contentType = "text/html; charset=utf-8";
    const ParsedResponse head = readResponse(Http::serialize(response, true, true));
    QVERIFY(head.ok);
    // HEAD: the same headers as GET, no body.
    QCOMPARE(head.header("Content-Length"), QByteArray::number(body.size()));
    QCOMPARE(head.header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    QVERIFY(head.body.isEmpty());

    HttpResponse noContent = HttpResponse::json(204, QByteArray());
    const QByteArray bytes = Http::serialize(noContent, true, false);
    const ParsedResponse r = readResponse(bytes);
    QVERIFY(r.ok);
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 204 No Content"));
    // RFC 9110 8.6: no Content-Length in a 204.
    QCOMPARE(r.count("Content-Length"), 0);
    QVERIFY(r.body.isEmpty());
}

void TestHttp::errorResponse()
{
    const HttpResponse response = HttpResponse::error(404, QStringLiteral("UNKNOWN_RUN"),
                                                      QStringLiteral("no run \"r9\""));
    QCOMPARE(response.status, 404);
    QCOMPARE(response.contentType, QByteArray("application/json"));
    QJsonParseError error{};
    const QJsonObject object = QJsonDocument::fromJson(response.body, &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    const QJsonObject inner = object.value(QLatin1String("error")).toObject();
    QCOMPARE(inner.value(QLatin1String("code")).toString(), QStringLiteral("UNKNOWN_RUN"));
    QCOMPARE(inner.value(QLatin1String("message")).toString(), QStringLiteral("no run \"r9\""));

    const ParsedResponse r = readResponse(Http::serialize(response, false, false));
    QVERIFY(r.ok);
    QCOMPARE(r.statusLine, QByteArray("HTTP/1.1 404 Not Found"));
    QCOMPARE(r.body, response.body);
}

QTEST_GUILESS_MAIN(TestHttp)
#include "tst_http.moc"
