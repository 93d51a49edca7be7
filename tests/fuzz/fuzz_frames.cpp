// Fuzz target: the server's WebSocket frame reader (server/net/wsframes.cpp) on arbitrary client bytes.
// The first byte of the input picks the message size limit; the rest is the connection's bytes. They
// are read twice, at once and one byte at a time, and both readers must give the same messages: the
// reader may not depend on how TCP cut the stream. Every text message is valid UTF-8, no message is
// larger than the limit, an error carries a close code the server may send, and nothing follows it.

#include "fuzzsupport.h"
#include "wsframes.h"

#include <QList>

using namespace Runwatch;
using Message = WsFrames::Reader::Message;

namespace {

QList<Message> readAll(WsFrames::Reader *reader, const QByteArray &bytes, qsizetype chunk)
{
    QList<Message> messages;
    for (qsizetype at = 0; at < bytes.size(); at += chunk) {
        reader->feed(bytes.constData() + at, qMin(chunk, bytes.size() - at));
        Message message;
        while (reader->next(&message))
            messages.append(message);
    }
    return messages;
}

QByteArray describe(const Message &message)
{
    return QByteArray::number(int(message.kind)) + ' ' + QByteArray::number(message.closeCode) + ' '
        + message.payload.left(64).toHex() + ' ' + message.error.toUtf8();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const qint64 limits[4] = {0, 125, 4096, 1 << 20};
    const qint64 limit = limits[data[0] & 3];
    const QByteArray bytes = QByteArray::fromRawData(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));

    WsFrames::Reader whole(limit);
    WsFrames::Reader bytewise(limit);
    const QList<Message> a = readAll(&whole, bytes, qMax<qsizetype>(1, bytes.size()));
    const QList<Message> b = readAll(&bytewise, bytes, 1);
    FUZZ_CHECK(a.size() == b.size(), bytes.toHex());
    for (qsizetype i = 0; i < a.size(); ++i) {
        FUZZ_CHECK(describe(a.at(i)) == describe(b.at(i)) && a.at(i).payload == b.at(i).payload,
                   describe(a.at(i)) + "\n" + describe(b.at(i)));
        const Message &m = a.at(i);
        switch (m.kind) {
        case Message::Kind::Text:
            FUZZ_CHECK(WsFrames::isValidUtf8(m.payload.constData(), m.payload.size()), m.payload.toHex());
            FUZZ_CHECK(QString::fromUtf8(m.payload).toUtf8() == m.payload, m.payload.toHex());
            Q_FALLTHROUGH();
        case Message::Kind::Binary:
            FUZZ_CHECK(m.payload.size() <= limit, describe(m));
            break;
        case Message::Kind::Ping:
        case Message::Kind::Pong:
        case Message::Kind::Close:
            FUZZ_CHECK(m.payload.size() <= 125, describe(m));
            break;
        case Message::Kind::Error:
            FUZZ_CHECK(i == a.size() - 1 && !m.error.isEmpty(), describe(m));
            FUZZ_CHECK(m.closeCode == WsFrames::CloseProtocolError || m.closeCode == WsFrames::CloseInvalidPayload
                           || m.closeCode == WsFrames::CloseTooBig,
                       describe(m));
            FUZZ_CHECK(whole.failed() && bytewise.failed(), describe(m));
            break;
        case Message::Kind::None:
            FUZZ_CHECK(false, describe(m));
        }
    }
    // What is held is the unread rest of at most one frame and one message's fragments.
    FUZZ_CHECK(bytewise.bufferedBytes() <= 2 * limit + 14 + 64 * 1024, QByteArray::number(bytewise.bufferedBytes()));
    return 0;
}
