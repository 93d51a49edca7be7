#pragma once

#include <QFile>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

namespace Runwatch {

class Hub;

// Tails a file of events, one producer event per line (JSON Lines), and publishes what is
// appended: the way in for jobs without a network. Survives the file being truncated (starts
// over at its beginning) or rotated (a new file under the same name: read from its start), and
// remembers how far it got in a state file, so a restart neither repeats nor skips lines.
// A line that is not a valid event is reported and skipped; it never stops the follower.
class FileFollower : public QObject
{
    Q_OBJECT
public:
    FileFollower(Hub *hub, const QString &path, const QString &stateFile, QObject *parent = nullptr);

    void start();
    // Reads whatever is new now (also called by the poll timer).
    void poll();

    qint64 offset() const { return m_offset; }
    qint64 eventsPublished() const { return m_published; }
    qint64 linesSkipped() const { return m_skipped; }

    static constexpr int PollMs = 200;
    static constexpr qint64 MaxReadBytes = 8 * 1024 * 1024;

Q_SIGNALS:
    // A line could not be used, or was stored with a warning; `message` says where and why.
    void problem(const QString &message);

private:
    quint64 fileIdentity() const;
    void loadState();
    void saveState();

    Hub *m_hub;
    QString m_path;
    QString m_stateFile;
    QTimer m_timer;
    quint64 m_identity = 0; // inode (0 where unknown)
    qint64 m_offset = 0;
    qint64 m_line = 0;      // lines consumed so far, for messages
    qint64 m_published = 0;
    qint64 m_skipped = 0;
    QSet<QString> m_warnedTypes; // custom types already warned about (UNKNOWN_TYPE), bounded
};

} // namespace Runwatch
