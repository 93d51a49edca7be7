#pragma once

// Shared by the fuzz targets: a failed check prints what differed and aborts, so that libFuzzer
// reports a logic error like any crash and keeps the input that caused it.

#include <QByteArray>
#include <QCoreApplication>
#include <QJsonDocument>
#include <QString>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace FuzzSupport {

[[noreturn]] inline void fail(const char *file, int line, const char *what, const QByteArray &detail)
{
    std::fprintf(stderr, "\n==fuzz check failed== %s:%d: %s\n%s\n", file, line, what,
                 detail.left(4000).constData());
    std::fflush(stderr);
    std::abort();
}

inline QByteArray show(const QByteArray &bytes)
{
    return bytes.left(2000);
}

inline QByteArray show(const QString &text)
{
    return text.left(2000).toUtf8();
}

inline QByteArray show(const QJsonDocument &doc)
{
    return doc.toJson(QJsonDocument::Compact).left(2000);
}

inline QByteArray show(qint64 value)
{
    return QByteArray::number(value);
}

// The objects under test are QObjects that may start timers: give them an application object.
inline void ensureApplication()
{
    static int argc = 1;
    static char name[] = "runwatch-fuzz";
    static char *argv[] = {name, nullptr};
    if (!QCoreApplication::instance())
        new QCoreApplication(argc, argv); // lives as long as the process
}

// A small deterministic generator (splitmix64), seeded from the input so that a reproducer
// replays the same choices.
class Random
{
public:
    explicit Random(const uint8_t *data, size_t size)
    {
        quint64 h = 0xcbf29ce484222325ull; // FNV-1a over the input
        for (size_t i = 0; i < size; ++i)
            h = (h ^ data[i]) * 0x100000001b3ull;
        m_state = h;
    }
    quint64 next()
    {
        quint64 z = (m_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform enough in [low, high].
    qint64 between(qint64 low, qint64 high) { return low + qint64(next() % quint64(high - low + 1)); }

private:
    quint64 m_state;
};

} // namespace FuzzSupport

#define FUZZ_CHECK(condition, detail)                                                              \
    do {                                                                                           \
        if (!(condition))                                                                          \
            FuzzSupport::fail(__FILE__, __LINE__, #condition, (detail));                           \
    } while (false)
