#pragma once

#include "viewerfeed.h"

#include <QMainWindow>
#include <QPointer>
#include <QSet>
#include <QTimer>

class QComboBox;
class QSystemTrayIcon;
class QLabel;
class QLineEdit;
class QTableView;
class QToolButton;

namespace Runwatch {

class EventLogFilter;
class EventLogModel;
class EventLogTable;
class RunsFilterModel;
class RunsModel;
class RunsTable;
class RunView;
class Workspace;

// The desktop window: runs on the left, the selected runs on the right, the live event log below,
// and the server's address and load in the status bar. One more viewer of the in-process server.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    MainWindow(ViewerFeed *feed, const QString &url, const QString &token, const QString &dataDir, QWidget *parent = nullptr);
    ~MainWindow() override;

    Workspace *workspace() const { return m_workspace; }
    RunView *runView() const { return m_runView; }
    RunsTable *runsView() const { return m_runsView; }
    EventLogModel *eventLog() const { return m_log; }
    // Selects the run (and shows it) if it is listed.
    void selectRun(const QString &run);
    // A running run silent for this long is reported as stalled.
    void setStallSeconds(int seconds) { m_stallSeconds = seconds; }
    // Runs reported as stalled and still silent.
    const QSet<QString> &stalledRuns() const { return m_stalled; }
    // Checks every running run for silence now (also done every few seconds).
    void checkStalls();

Q_SIGNALS:
    // A desktop notification was raised (for tests and the status bar).
    void notified(const QString &title, const QString &message);

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void onEvents(const EventBatch &batch);
    void onStatus(const ViewerFeed::Status &status);
    void onSelectionChanged();
    void buildEventLog();
    void updateLogRuns();
    void notify(const QString &title, const QString &message, bool failure);
    void openSettings();
    void deleteSelectedRuns();
    void exportSelectedRun();
    void importEvents();

    ViewerFeed *m_feed;
    QString m_url;
    QString m_dashboardUrl;
    QString m_dataDir;
    Workspace *m_workspace;
    RunsModel *m_runs;
    RunsFilterModel *m_runsFilter;
    RunsTable *m_runsView;
    RunView *m_runView;
    EventLogModel *m_log;
    EventLogFilter *m_logFilter;
    EventLogTable *m_logView;
    QComboBox *m_logRun;
    QComboBox *m_logType;
    QToolButton *m_autoscroll;
    QLabel *m_urlLabel;
    QLabel *m_clientsLabel;
    QLabel *m_rateLabel;
    bool m_autoSelected = false;
    QSystemTrayIcon *m_tray = nullptr;
    QTimer m_stallTimer;
    int m_stallSeconds = 300;
    QSet<QString> m_stalled;
};

} // namespace Runwatch
