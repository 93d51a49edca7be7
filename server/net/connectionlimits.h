#pragma once

#include "http.h"

#include <QHash>
#include <QString>

#include <memory>

class QTcpSocket;

namespace Runwatch {

// Open TCP connections, in total and per peer address, whatever they carry (HTTP or WebSocket).
// A socket admitted is counted until it is destroyed: a child object gives its place back.
class ConnectionLimits
{
public:
    ConnectionLimits(int maxTotal, int maxPerAddress);

    // Counts the socket and returns true, or returns false with the answer the peer gets
    // (429 past the per-address bound, 503 past the total) in *refusal.
    bool admit(QTcpSocket *socket, HttpResponse *refusal);
    int open() const { return m_counts->total; }
    qint64 refused() const { return m_refused; }

    struct Counts {
        int total = 0;
        QHash<QString, int> perAddress;
    };

private:
    int m_maxTotal;
    int m_maxPerAddress;
    qint64 m_refused = 0;
    std::shared_ptr<Counts> m_counts = std::make_shared<Counts>();
};

} // namespace Runwatch
