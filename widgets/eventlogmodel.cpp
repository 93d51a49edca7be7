#include "eventlogmodel.h"

#include "codec.h"
#include "format.h"
#include "runstate.h"
#include "workspace.h"

#include <QColor>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>

namespace Runwatch {

namespace {

QString shortJson(const QJsonObject &object, int max = 160)
{
    QString text = QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
    if (text.size() > max)
        text = text.left(max - 1) + QChar(0x2026);
    return text;
}

QString oneLine(QString text, int max = 200)
{
    text.replace(QLatin1Char('\n'), QChar(0x21b5));
    if (text.size() > max)
        text = text.left(max - 1) + QChar(0x2026);
    return text;
}

QString metricText(const QJsonValue &value)
{
    double v;
    if (Codec::metricValue(value, &v))
        return Format::metricValue(v);
    return value.toVariant().toString();
}

} // namespace

EventLogModel::EventLogModel(int maxRows, QObject *parent)
    : QAbstractTableModel(parent), m_maxRows(qMax(1, maxRows))
{
}

void EventLogModel::setWorkspace(const Workspace *workspace)
{
    m_workspace = workspace;
    // A run's name comes with its run_started, which may follow its first events.
    auto namesChanged = [this] {
        if (!m_rows.empty())
            Q_EMIT dataChanged(index(0, Run), index(int(m_rows.size()) - 1, Run), {Qt::DisplayRole});
    };
    connect(workspace, &Workspace::runsAdded, this, namesChanged);
    connect(workspace, &Workspace::runRemoved, this, namesChanged);
    namesChanged();
}

EventLogModel::Severity EventLogModel::severityOf(const Event &event)
{
    switch (event.kind) {
    case EventKind::ErrorEvent:
    case EventKind::RunFailed:
    case EventKind::StepFailed:
        return Failure;
    case EventKind::RunCompleted:
    case EventKind::StepCompleted:
        return Success;
    case EventKind::Log: {
        const QString level = event.data.value(QLatin1String("level")).toString();
        if (level == QLatin1String("error"))
            return Failure;
        if (level == QLatin1String("warning"))
            return Warning;
        return Normal;
    }
    case EventKind::Metric:
        for (auto it = event.data.constBegin(); it != event.data.constEnd(); ++it) {
            double v;
            if (it.key() != QLatin1String("step") && Codec::metricValue(it.value(), &v) && !std::isfinite(v))
                return Failure;
        }
        return Normal;
    case EventKind::Result: {
        // The same rule as the run's counters: a truthy "error" or a false success flag.
        const QJsonValue error = event.data.value(QLatin1String("error"));
        if ((error.isString() && !error.toString().isEmpty()) || (error.isBool() && error.toBool())
            || error.isObject() || (error.isDouble() && error.toDouble() != 0))
            return Warning;
        for (const char *key : {"success", "ok", "passed", "correct"}) {
            const QJsonValue v = event.data.value(QLatin1String(key));
            if (v.isBool() && !v.toBool())
                return Warning;
        }
        return Normal;
    }
    default:
        return Normal;
    }
}

QString EventLogModel::summarize(const Event &event)
{
    const QJsonObject &d = event.data;
    auto str = [&](const char *key) { return d.value(QLatin1String(key)).toString(); };
    switch (event.kind) {
    case EventKind::RunStarted: {
        QString text = str("name").isEmpty() ? event.run : str("name");
        if (!str("kind").isEmpty())
            text += QStringLiteral(" (%1)").arg(str("kind"));
        return text;
    }
    case EventKind::RunStatus:
        return str("message").isEmpty() ? str("status") : QStringLiteral("%1: %2").arg(str("status"), oneLine(str("message")));
    case EventKind::Progress: {
        QString text = QString::number(d.value(QLatin1String("completed")).toDouble());
        const double total = d.value(QLatin1String("total")).toDouble(-1);
        if (total > 0)
            text += QStringLiteral("/%1 (%2)").arg(total).arg(Format::percent(d.value(QLatin1String("completed")).toDouble() / total, 1));
        if (d.contains(QLatin1String("epoch")))
            text += tr("  epoch %1").arg(d.value(QLatin1String("epoch")).toDouble());
        return text;
    }
    case EventKind::Metric: {
        QStringList parts;
        for (auto it = d.constBegin(); it != d.constEnd(); ++it) {
            if (it.key() != QLatin1String("step"))
                parts.append(QStringLiteral("%1=%2").arg(it.key(), metricText(it.value())));
        }
        QString text = parts.join(QStringLiteral("  "));
        if (d.contains(QLatin1String("step")))
            text += tr("  @ step %1").arg(qint64(d.value(QLatin1String("step")).toDouble()));
        return text;
    }
    case EventKind::StepStarted:
    case EventKind::StepProgress:
    case EventKind::StepCompleted:
    case EventKind::StepFailed: {
        QString text = event.step;
        if (!str("name").isEmpty())
            text += QStringLiteral(" %1").arg(str("name"));
        if (d.contains(QLatin1String("progress")))
            text += QStringLiteral(" %1 %").arg(d.value(QLatin1String("progress")).toDouble() * 100, 0, 'f', 0);
        if (!str("message").isEmpty())
            text += QStringLiteral(": ") + oneLine(str("message"));
        return text;
    }
    case EventKind::Log:
        return QStringLiteral("[%1] %2").arg(str("level").isEmpty() ? QStringLiteral("info") : str("level"), oneLine(str("message")));
    case EventKind::Token:
        return oneLine(str("text"));
    case EventKind::ErrorEvent:
        return str("code").isEmpty() ? oneLine(str("message")) : QStringLiteral("%1: %2").arg(str("code"), oneLine(str("message")));
    case EventKind::RunFailed:
        return oneLine(str("message"));
    case EventKind::RunCompleted:
        return d.contains(QLatin1String("summary")) ? shortJson(d.value(QLatin1String("summary")).toObject()) : QString();
    default:
        return shortJson(d);
    }
}

void EventLogModel::append(const EventBatch &batch)
{
    std::deque<Row> rows;
    const qsizetype first = qMax<qsizetype>(0, batch.size() - m_maxRows);
    for (qsizetype i = first; i < batch.size(); ++i) {
        const Event &event = batch.at(i);
        rows.emplace_back(event);
    }
    if (m_paused) {
        for (Row &row : rows)
            m_waiting.push_back(std::move(row));
        while (int(m_waiting.size()) > m_maxRows)
            m_waiting.pop_front();
        return;
    }
    insertRows(rows);
}

void EventLogModel::prepend(const EventBatch &older)
{
    const qint64 oldest = oldestSeq();
    std::deque<Row> rows;
    for (const Event &event : older) {
        if (oldest == 0 || event.seq < oldest)
            rows.emplace_back(event);
    }
    if (rows.empty())
        return;
    beginInsertRows(QModelIndex(), 0, int(rows.size()) - 1);
    m_rows.insert(m_rows.begin(), std::make_move_iterator(rows.begin()), std::make_move_iterator(rows.end()));
    endInsertRows();
}

qint64 EventLogModel::oldestSeq() const
{
    return m_rows.empty() ? 0 : m_rows.front().seq;
}

void EventLogModel::insertRows(std::deque<Row> &rows)
{
    if (rows.empty())
        return;
    const int overflow = int(m_rows.size() + rows.size()) - m_maxRows;
    if (overflow > 0) {
        const int drop = qMin(overflow, int(m_rows.size()));
        if (drop > 0) {
            beginRemoveRows(QModelIndex(), 0, drop - 1);
            m_rows.erase(m_rows.begin(), m_rows.begin() + drop);
            endRemoveRows();
        }
    }
    const int first = int(m_rows.size());
    beginInsertRows(QModelIndex(), first, first + int(rows.size()) - 1);
    for (Row &row : rows)
        m_rows.push_back(std::move(row));
    endInsertRows();
}

void EventLogModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_waiting.clear();
    endResetModel();
}

void EventLogModel::setPaused(bool paused)
{
    if (m_paused == paused)
        return;
    m_paused = paused;
    if (!paused) {
        std::deque<Row> waiting;
        waiting.swap(m_waiting);
        insertRows(waiting);
    }
}

int EventLogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int EventLogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

const EventLogModel::Row &EventLogModel::described(const Row &row) const
{
    if (!row.summarized) {
        Event event;
        event.kind = row.kind;
        event.run = row.run;
        event.type = row.type;
        event.step = row.step;
        event.data = std::exchange(row.data, QJsonObject());
        row.summary = summarize(event);
        row.severity = severityOf(event);
        row.summarized = true;
    }
    return row;
}

QVariant EventLogModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &row = m_rows.at(size_t(index.row()));
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Time: return QDateTime::fromMSecsSinceEpoch(row.tsMs).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Run: {
            const RunState *run = m_workspace ? m_workspace->run(row.run) : nullptr;
            return run ? run->name() : row.run;
        }
        case Type: return row.type;
        case Summary: return described(row).summary;
        default: return {};
        }
    case Qt::ToolTipRole:
        if (index.column() == Run)
            return row.run;
        if (index.column() == Summary)
            return described(row).summary;
        if (index.column() == Time)
            return QString(Codec::formatTimestamp(row.tsMs) + QStringLiteral("  seq %1").arg(row.seq));
        return {};
    case Qt::ForegroundRole:
        switch (described(row).severity) {
        case Failure: return QColor(0xc0, 0x39, 0x2b);
        case Warning: return QColor(0xb3, 0x6b, 0x00);
        case Success: return QColor(0x23, 0x86, 0x3f);
        default: return {};
        }
    case SeverityRole: return int(described(row).severity);
    case SeqRole: return row.seq;
    case RunRole: return row.run;
    case TypeRole: return row.type;
    default: return {};
    }
}

QVariant EventLogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Time: return tr("Time");
    case Run: return tr("Run");
    case Type: return tr("Type");
    case Summary: return tr("Summary");
    default: return {};
    }
}

EventLogFilter::EventLogFilter(QObject *parent)
    : QSortFilterProxyModel(parent)
{
}

void EventLogFilter::setRun(const QString &run)
{
    m_run = run;
    invalidateFilter();
}

void EventLogFilter::setType(const QString &type)
{
    m_type.clear();
    m_hidden.clear();
    if (type.startsWith(QLatin1Char('-')))
        m_hidden = type.mid(1).split(QLatin1Char(','), Qt::SkipEmptyParts);
    else
        m_type = type;
    invalidateFilter();
}

void EventLogFilter::setText(const QString &text)
{
    m_text = text.trimmed();
    invalidateFilter();
}

bool EventLogFilter::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, EventLogModel::Summary, sourceParent);
    if (!m_run.isEmpty() && index.data(EventLogModel::RunRole).toString() != m_run)
        return false;
    const QString type = index.data(EventLogModel::TypeRole).toString();
    if (!m_type.isEmpty() && type != m_type)
        return false;
    if (!m_hidden.isEmpty() && m_hidden.contains(type))
        return false;
    if (m_text.isEmpty())
        return true;
    return index.data().toString().contains(m_text, Qt::CaseInsensitive)
        || index.data(EventLogModel::RunRole).toString().contains(m_text, Qt::CaseInsensitive)
        || sourceModel()->index(sourceRow, EventLogModel::Run, sourceParent).data().toString().contains(m_text, Qt::CaseInsensitive);
}

} // namespace Runwatch
