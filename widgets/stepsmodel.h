#pragma once

#include <QAbstractTableModel>
#include <QString>

namespace Runwatch {

class Workspace;

// The steps table of one run: step, name, status, progress, duration, message.
class StepsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Id, Name, Status, Progress, Duration, Message, ColumnCount };
    enum Role { ProgressRole = Qt::UserRole + 1, StatusRole };

    explicit StepsModel(Workspace *workspace, QObject *parent = nullptr);
    void setRun(const QString &run);
    QString run() const { return m_run; }

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    void refresh();
    Workspace *m_workspace;
    QString m_run;
    int m_rows = 0;
};

} // namespace Runwatch
