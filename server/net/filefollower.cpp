#include "filefollower.h"

#include "codec.h"
#include "hub.h"

#include <QDateTime>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#ifdef Q_OS_UNIX
#include <sys/stat.h>
#endif

namespace Runwatch {

FileFollower::FileFollower(Hub *hub, const QString &path, const QString &stateFile, QObject *parent)
    : QObject(parent), m_hub(hub), m_path(QFileInfo(path).absoluteFilePath()), m_stateFile(stateFile)
{
    m_timer.setInterval(PollMs);
    connect(&m_timer, &QTimer::timeout, this, &FileFollower::poll);
}

void FileFollower::start()
{
    loadState();
    poll();
    m_timer.start();
}

quint64 FileFollower::fileIdentity() const
{
#ifdef Q_OS_UNIX
    struct stat info;
    if (::stat(QFile::encodeName(m_path).constData(), &info) == 0)
        return quint64(info.st_ino) ^ (quint64(info.st_dev) << 48);
#endif
    return 0;
}

void FileFollower::loadState()
{
    if (m_stateFile.isEmpty())
        return;
    QFile file(m_stateFile);
    if (!file.open(QIODevice::ReadOnly))
        return;
    const QJsonObject state = QJsonDocument::fromJson(file.readAll()).object();
    if (state.value(QLatin1String("path")).toString() != m_path)
        return;
    m_identity = state.value(QLatin1String("identity")).toString().toULongLong();
    m_offset = qint64(state.value(QLatin1String("offset")).toDouble());
    m_line = qint64(state.value(QLatin1String("line")).toDouble());
}

void FileFollower::saveState()
{
    if (m_stateFile.isEmpty())
        return;
    QSaveFile file(m_stateFile);
    if (!file.open(QIODevice::WriteOnly))
        return;
    file.write(QJsonDocument(QJsonObject{{QStringLiteral("path"), m_path},
                                         {QStringLiteral("identity"), QString::number(m_identity)},
                                         {QStringLiteral("offset"), double(m_offset)},
                                         {QStringLiteral("line"), double(m_line)}})
                   .toJson(QJsonDocument::Compact));
    file.commit();
}

void FileFollower::poll()
{
    QFile file(m_path);
    if (!file.open(QIODevice::ReadOnly))
        return; // not there (yet, or between rotation steps): try again later
    const quint64 identity = fileIdentity();
    const qint64 size = file.size();
    if (identity != m_identity || size < m_offset) {
        // Rotated (another file under this name) or truncated: start at the new beginning.
        if (m_identity != 0 || m_offset != 0)
            m_line = 0;
        m_identity = identity;
        m_offset = 0;
        saveState();
    }
    if (size == m_offset || !file.seek(m_offset))
        return;
    const QByteArray chunk = file.read(qMin(MaxReadBytes, size - m_offset));
    const int end = int(chunk.lastIndexOf('\n'));
    if (end < 0) {
        // One line longer than a read: it cannot become an event, skip past it.
        if (chunk.size() >= MaxReadBytes) {
            ++m_skipped;
            Q_EMIT problem(QStringLiteral("%1:%2: line longer than %3 bytes, skipped").arg(m_path).arg(m_line + 1).arg(MaxReadBytes));
            m_offset += chunk.size();
            saveState();
        }
        return; // a partial last line waits for its newline
    }
    EventBatch batch;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    const int maxEvents = m_hub->config().maxEventsPerPublish;
    qsizetype start = 0;   // of the next line in chunk
    qint64 lines = 0;
    qint64 skipped = 0;
    QStringList problems;
    QVector<qint64> batchLines; // the file line of each event in batch
    // Whole lines only, and at most one publish worth of events per pass: what is read is either
    // published and passed, or left for the next pass; never both.
    while (start <= end && batch.size() < maxEvents) {
        const qsizetype stop = chunk.indexOf('\n', start);
        const QByteArray line = chunk.mid(start, stop - start).trimmed();
        start = stop + 1;
        ++lines;
        if (line.isEmpty())
            continue;
        Error error;
        const QJsonDocument doc = Codec::parseJson(line, &error);
        Event event;
        if (!error && !doc.isObject())
            error = Error{ErrorCode::InvalidEvent, QStringLiteral("a line must hold one event object")};
        if (!error)
            error = Codec::parseEvent(doc.object(), now, &event);
        if (error) {
            ++skipped;
            problems.append(QStringLiteral("%1:%2: %3 (%4), line skipped")
                                .arg(m_path).arg(m_line + lines).arg(error.message, errorCodeName(error.code)));
            continue;
        }
        batch.append(std::move(event));
        batchLines.append(m_line + lines);
    }
    if (!batch.isEmpty()) {
        const qsizetype count = batch.size();
        const QStringList types = [&] {
            QStringList list;
            for (const Event &event : std::as_const(batch))
                list.append(event.type);
            return list;
        }();
        const PublishResult result = m_hub->publish(std::move(batch));
        if (result.error) {
            // The store refused: keep the offset and try the same lines again on the next pass.
            Q_EMIT problem(QStringLiteral("%1: not stored (%2), will retry").arg(m_path, result.error.message));
            return;
        }
        m_published += count;
        // Stored, but probably not what was meant ("metrics"): said once per type.
        for (const PublishWarning &warning : result.warnings) {
            const QString &type = types.at(warning.index);
            if (m_warnedTypes.size() < 256 && !m_warnedTypes.contains(type)) {
                m_warnedTypes.insert(type);
                problems.append(QStringLiteral("%1:%2: %3").arg(m_path).arg(batchLines.at(warning.index)).arg(warning.message));
            }
        }
    }
    for (const QString &message : std::as_const(problems))
        Q_EMIT problem(message);
    m_skipped += skipped;
    m_line += lines;
    m_offset += start;
    saveState();
    if (start <= end)
        QMetaObject::invokeMethod(this, &FileFollower::poll, Qt::QueuedConnection); // more is waiting
}

} // namespace Runwatch
