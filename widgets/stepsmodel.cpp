#include "stepsmodel.h"

#include "format.h"
#include "runstate.h"
#include "workspace.h"

#include <QDateTime>

namespace Runwatch {

StepsModel::StepsModel(Workspace *workspace, QObject *parent)
    : QAbstractTableModel(parent), m_workspace(workspace)
{
    connect(workspace, &Workspace::runsChanged, this, [this](const QSet<QString> &runs) {
        if (runs.contains(m_run))
            refresh();
    });
    connect(workspace, &Workspace::runRemoved, this, [this](const QString &run) {
        if (run == m_run)
            setRun(QString());
    });
}

void StepsModel::setRun(const QString &run)
{
    beginResetModel();
    m_run = run;
    const RunState *state = m_workspace->run(run);
    m_rows = state ? int(state->steps().size()) : 0;
    endResetModel();
}

void StepsModel::refresh()
{
    const RunState *state = m_workspace->run(m_run);
    const int rows = state ? int(state->steps().size()) : 0;
    if (rows > m_rows) {
        beginInsertRows(QModelIndex(), m_rows, rows - 1);
        m_rows = rows;
        endInsertRows();
    } else if (rows < m_rows) {
        setRun(m_run);
        return;
    }
    if (m_rows > 0)
        Q_EMIT dataChanged(index(0, 0), index(m_rows - 1, ColumnCount - 1));
}

int StepsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : m_rows;
}

int StepsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant StepsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const RunState *state = m_workspace->run(m_run);
    if (!state || index.row() >= state->steps().size())
        return {};
    const StepState &step = state->steps().at(index.row());
    if (role == ProgressRole) {
        if (step.status == QLatin1String("completed"))
            return 1.0;
        return step.progress;
    }
    if (role == StatusRole)
        return step.status;
    if (role == Qt::DecorationRole && index.column() == Status)
        return Format::statusIcon(step.status);
    if (role == Qt::ForegroundRole && index.column() == Status)
        return Format::statusColor(step.status);
    if (role == Qt::ToolTipRole && index.column() == Message)
        return step.message;
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case Id: return step.id;
    case Name: return step.name.isEmpty() ? step.id : step.name;
    case Status: return Format::statusText(step.status);
    case Progress: return step.progress < 0 ? QString() : Format::percent(step.progress, 0);
    case Duration: {
        if (step.startedMs <= 0)
            return QString();
        const qint64 end = step.endedMs > 0 ? step.endedMs : QDateTime::currentMSecsSinceEpoch();
        return Format::duration((end - step.startedMs) / 1000.0);
    }
    case Message: return step.message;
    default: return {};
    }
}

QVariant StepsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case Id: return tr("Step");
    case Name: return tr("Name");
    case Status: return tr("Status");
    case Progress: return tr("Progress");
    case Duration: return tr("Duration");
    case Message: return tr("Message");
    default: return {};
    }
}

} // namespace Runwatch
