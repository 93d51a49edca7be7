#pragma once

#include "event.h"
#include "metricchart.h"

#include <QHash>
#include <QSet>
#include <QStringList>
#include <QTimer>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QPlainTextEdit;
class QProgressBar;
class QSlider;
class QTabWidget;
class QTableView;
class QToolButton;
class QTreeWidget;
class QVBoxLayout;

namespace Runwatch {

class StepsModel;
class Workspace;

// What the window shows of the selected runs: a header, then Charts, Steps, Output and Config.
// Several runs selected: their metrics overlay in the charts; the rest shows the first one.
class RunView : public QWidget
{
    Q_OBJECT
public:
    explicit RunView(Workspace *workspace, QWidget *parent = nullptr);

    void setRuns(const QStringList &runs);
    QStringList runs() const { return m_runs; }
    QList<MetricChart *> charts() const;
    QTabWidget *tabs() const { return m_tabs; }
    ChartOptions chartOptions() const { return m_options; }
    void setChartOptions(const ChartOptions &options);

    // Metric groups: every name ending in "loss" shares one chart; every other name gets its own.
    static QList<QPair<QString, QStringList>> groupMetrics(const QStringList &names);

    // Metrics by the prefix before their first slash ("train/loss", "train/acc": section
    // "train"), each section's charts grouped as groupMetrics() does with the prefix left out of
    // the titles. Names without a prefix come first, in a section with an empty prefix.
    struct Section {
        QString prefix;
        QList<QPair<QString, QStringList>> charts; // title, full metric names
    };
    static QList<Section> sectionMetrics(const QStringList &names);

    // The prefixes that have a header (every section but the unprefixed one), in order.
    QStringList sections() const;
    QList<MetricChart *> charts(const QString &section) const;
    // A collapsed section shows only its header; its charts are not redrawn until it opens.
    void setSectionCollapsed(const QString &section, bool collapsed);
    bool isSectionCollapsed(const QString &section) const { return m_collapsed.contains(section); }
    QToolButton *sectionHeader(const QString &section) const;

private:
    void onRunsChanged(const QSet<QString> &runs);
    void onApplied(const EventBatch &batch);
    void updateHeader();
    void rebuildCharts();
    void refreshCharts();
    void rebuildOutput();
    void rebuildConfig();
    void exportCharts();
    // One CSV per selected run, every metric a column (MetricTable).
    void exportTables();

    Workspace *m_workspace;
    QStringList m_runs;
    ChartOptions m_options;
    QTimer m_redraw;
    bool m_chartsDirty = false;
    QStringList m_chartedMetrics;

    QLabel *m_title;
    QLabel *m_status;
    QProgressBar *m_progress;
    QLabel *m_details;
    QTabWidget *m_tabs;
    QWidget *m_chartArea;
    QVBoxLayout *m_sectionsLayout;
    QList<QWidget *> m_sectionWidgets; // headers and the boxes that hold each section's charts
    QHash<QString, QWidget *> m_sectionBoxes;
    QHash<QString, QToolButton *> m_sectionHeaders;
    QHash<MetricChart *, QString> m_chartSection;
    QSet<QString> m_collapsed;
    QList<MetricChart *> m_charts;
    QLabel *m_noCharts;
    QComboBox *m_xAxis;
    QSlider *m_smoothing;
    QLabel *m_smoothingValue;
    QCheckBox *m_logY;
    StepsModel *m_steps;
    QTableView *m_stepsView;
    QPlainTextEdit *m_output;
    QTreeWidget *m_config;
};

} // namespace Runwatch
