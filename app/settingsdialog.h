#pragma once

#include <QDialog>

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace Runwatch {

// Preferences kept with QSettings. Server settings apply at the next start (the running server
// keeps its port and tokens); stall timeout and theme apply at once.
struct Preferences {
    QString bind = QStringLiteral("127.0.0.1");
    int port = 7600;
    QString token;
    QString viewerToken;
    int stallSeconds = 300;
    QString theme = QStringLiteral("system"); // system, light, dark

    static Preferences load();
    void save() const;
    // Command-line arguments that carry the server settings; the user's own flags come after them
    // and win.
    QStringList serverArguments() const;
};

void applyTheme(const QString &theme);

class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(const Preferences &preferences, QWidget *parent = nullptr);
    Preferences preferences() const;

private:
    QLineEdit *m_bind;
    QSpinBox *m_port;
    QLineEdit *m_token;
    QLineEdit *m_viewerToken;
    QSpinBox *m_stall;
    QComboBox *m_theme;
};

} // namespace Runwatch
