#include "parsepool.h"

#include <QPointer>
#include <QThread>
#include <QThreadPool>

namespace Runwatch {

ParsePool::ParsePool(int threads, QObject *parent)
    : QObject(parent)
{
    const int count = threads >= 0 ? threads : (QThread::idealThreadCount() >= 2 ? 1 : 0);
    if (count > 0) {
        m_pool = std::make_unique<QThreadPool>();
        m_pool->setMaxThreadCount(count);
        m_pool->setExpiryTimeout(-1);
    }
}

ParsePool::~ParsePool()
{
    // Jobs post their results to this object: none may still run once it is gone (results already
    // posted are dropped with it).
    if (m_pool) {
        m_pool->clear();
        m_pool->waitForDone();
    }
}

bool ParsePool::submit(QObject *owner, qint64 bytes, std::function<void()> work, std::function<void()> done)
{
    if (!m_pool || m_bytes + bytes > MaxBytes)
        return false;
    m_bytes += bytes;
    ++m_submitted;
    QPointer<QObject> guard(owner);
    m_pool->start([this, guard, bytes, work = std::move(work), done = std::move(done)]() mutable {
        work();
        QMetaObject::invokeMethod(
            this,
            [this, guard, bytes, done = std::move(done)] {
                m_bytes -= bytes;
                if (guard) // the owner may have gone meanwhile
                    done();
            },
            Qt::QueuedConnection);
    });
    return true;
}

} // namespace Runwatch
