#pragma once

#include <QObject>

#include <functional>
#include <memory>

class QThreadPool;

namespace Runwatch {

// Threads that parse large messages ahead of the server thread (config parseThreads), bounded in
// the bytes they hold over all connections. Lives on the server thread: work runs on a pool
// thread, and `done` back here, only if its owner still exists by then.
class ParsePool : public QObject
{
    Q_OBJECT
public:
    // threads: -1 picks one when the machine has two cores or more; 0 means none (submit refuses).
    explicit ParsePool(int threads, QObject *parent = nullptr);
    ~ParsePool() override;

    // Bytes held by jobs over all owners; past it, submit refuses and the caller parses itself
    // (and while it does, no socket is read, which is what holds fast producers back).
    static constexpr qint64 MaxBytes = 64 * 1024 * 1024;

    // False when there are no threads or the bound is reached; then nothing runs.
    bool submit(QObject *owner, qint64 bytes, std::function<void()> work, std::function<void()> done);
    qint64 submitted() const { return m_submitted; }

private:
    std::unique_ptr<QThreadPool> m_pool;
    qint64 m_bytes = 0;
    qint64 m_submitted = 0;
};

} // namespace Runwatch
