// Fuzz target: the WebSocket op handling of one client (server/net/wsclient.cpp) with a real Hub on an
// in-memory store, without a connection. The first byte of the input picks the connection's role and
// the server's configuration; every following line is one text message from the client, sent as a
// masked WebSocket frame (its bytes made valid UTF-8 first: invalid UTF-8 is fuzz_frames' part). Each
// goes through the client's frame reader and op handling (JSON parsing, auth, subscribe, unsubscribe,
// publish with one event or a batch, ping), the Hub delivers what was published, and every frame the
// client is sent must be one well-formed JSON object of the contract.
//
// First byte: bits 0-1 the role the connection starts with (none, viewer, producer, admin), bit 2 an
// open server (no tokens; auth gives admin), bit 3 live-only subscriptions by default (replay=0).
// With tokens, "admin-token" is the producer/admin token and "viewer-token" the viewer token.

#include "codec.h"
#include "accesspolicy.h"
#include "fuzzsupport.h"
#include "hub.h"
#include "memorystore.h"
#include "wsclient.h"
#include "wsframes.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QTcpSocket>

#include <memory>

using namespace Runwatch;

namespace {

constexpr int MaxFrames = 64;

// The client as the server runs it, except that what it sends is recorded instead of written.
class RecordingClient : public WsClient
{
public:
    using WsClient::WsClient;
    void sendFrame(const QByteArray &utf8) override { m_frames.append(QString::fromUtf8(utf8)); }
    QStringList takeFrames() { return std::exchange(m_frames, {}); }

private:
    QStringList m_frames;
};

// A client's text frame: masked, as RFC 6455 requires of clients.
QByteArray maskedText(const QByteArray &payload)
{
    static const char key[4] = {'\x12', '\x34', '\x56', '\x78'};
    QByteArray header = WsFrames::frameHeader(WsFrames::Text, quint64(payload.size()));
    header[1] = char(header.at(1) | 0x80);
    header.append(key, 4);
    QByteArray masked = payload;
    for (qsizetype i = 0; i < masked.size(); ++i)
        masked[i] = char(masked.at(i) ^ key[i % 4]);
    return header + masked;
}

void checkEnvelope(const QJsonObject &object, const QByteArray &frame, qint64 lastSeq)
{
    Event event;
    const QByteArray json = Codec::compact(object);
    FUZZ_CHECK(Codec::parseEnvelope(json, &event), frame);
    FUZZ_CHECK(event.seq >= 1 && event.seq <= lastSeq, frame);
    FUZZ_CHECK(Codec::isValidRunId(event.run), frame);
}

// One frame sent to the client: a JSON object with a "type" the contract names.
void checkSent(const QString &text, qint64 lastSeq)
{
    const QByteArray frame = text.toUtf8();
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(frame, &error);
    FUZZ_CHECK(error.error == QJsonParseError::NoError && doc.isObject(), frame);
    const QJsonObject object = doc.object();
    const QJsonValue type = object.value(QLatin1String("type"));
    FUZZ_CHECK(type.isString() && !type.toString().isEmpty(), frame);
    const QString name = type.toString();
    if (object.contains(QLatin1String("seq")) && object.value(QLatin1String("seq")).isDouble()) {
        checkEnvelope(object, frame, lastSeq); // a single event goes out as its bare envelope
    } else if (name == QLatin1String("batch")) {
        const QJsonArray events = object.value(QLatin1String("events")).toArray();
        FUZZ_CHECK(!events.isEmpty(), frame);
        for (const QJsonValue &event : events)
            checkEnvelope(event.toObject(), frame, lastSeq);
    } else if (name == QLatin1String("error")) {
        FUZZ_CHECK(!object.value(QLatin1String("code")).toString().isEmpty()
                       && !object.value(QLatin1String("message")).toString().isEmpty(),
                   frame);
    } else if (name == QLatin1String("ack")) {
        const QJsonArray seqs = object.value(QLatin1String("seq")).toArray();
        FUZZ_CHECK(!seqs.isEmpty(), frame);
        for (const QJsonValue &seq : seqs)
            FUZZ_CHECK(seq.isDouble() && seq.toDouble() >= 1 && seq.toDouble() <= double(lastSeq), frame);
    } else {
        static const QStringList known = {QStringLiteral("pong"), QStringLiteral("auth_ok"),
                                          QStringLiteral("subscribed"), QStringLiteral("unsubscribed"),
                                          QStringLiteral("run_deleted")};
        FUZZ_CHECK(known.contains(name), frame);
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    FuzzSupport::ensureApplication();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t setup = data[0];
    const Role role = Role(setup & 3);
    ServerConfig config;
    if (!(setup & 4)) {
        config.token = QStringLiteral("admin-token");
        config.viewerToken = QStringLiteral("viewer-token");
    }
    config.maxSubscriptionsPerClient = 8;
    config.parseThreads = 0; // every message handled before the next one is fed
    config.memoryHistoryBytes = 4 * 1024 * 1024;

    Hub hub(config, std::make_unique<MemoryStore>(config.memoryHistoryBytes));
    const AccessPolicy access(config);
    const WsContext context{&config, &hub, &access, nullptr};
    auto *socket = new QTcpSocket; // owned by the client from here on; never connected
    auto client = std::make_unique<RecordingClient>(socket, context, QStringLiteral("c1"), role, QStringLiteral("/ws"), nullptr);
    client->setDefaultSince((setup & 8) ? -1 : 0);

    const QByteArray input = QByteArray::fromRawData(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    const QList<QByteArray> frames = input.split('\n');
    for (qsizetype i = 0; i < frames.size() && i < MaxFrames; ++i) {
        client->received(maskedText(QString::fromUtf8(frames.at(i)).toUtf8()));
        hub.flush();
        for (const QString &sent : client->takeFrames())
            checkSent(sent, hub.lastSeq());
    }

    // Everything stored reads back as the envelope of an accepted event (what a restart replays).
    for (const StoredEnvelope &stored : hub.store().readAll(0, 100000, qint64(64) * 1024 * 1024)) {
        Event event;
        FUZZ_CHECK(Codec::parseEnvelope(stored.json, &event) && event.seq == stored.seq, stored.json);
        Event replayed;
        const Error error = Codec::parseEvent(QJsonDocument::fromJson(stored.json).object(), 0, &replayed);
        FUZZ_CHECK(!error, stored.json + "\n" + error.message.toUtf8());
    }
    client.reset();
    return 0;
}
