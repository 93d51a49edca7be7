#pragma once

#include <QStringList>

namespace Runwatch {

// `runwatch send --run ID --type TYPE [--data JSON] [--step S] [--eid E] [--url URL] [--token T]`:
// one event from a shell script or a CI job, through POST /api/events. Prints the seq it got.
int sendCommand(const QStringList &arguments);

} // namespace Runwatch
