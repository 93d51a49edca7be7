#include "connectionlimits.h"

#include <QTcpSocket>

namespace Runwatch {

namespace {

// Lives as a child of a counted socket and gives its place back when the socket is destroyed.
class ConnectionSlot : public QObject
{
public:
    ConnectionSlot(std::shared_ptr<ConnectionLimits::Counts> counts, const QString &address, QObject *socket)
        : QObject(socket), m_counts(std::move(counts)), m_address(address)
    {
        ++m_counts->total;
        ++m_counts->perAddress[m_address];
    }
    ~ConnectionSlot() override
    {
        --m_counts->total;
        auto it = m_counts->perAddress.find(m_address);
        if (it != m_counts->perAddress.end() && --it.value() <= 0)
            m_counts->perAddress.erase(it);
    }

private:
    std::shared_ptr<ConnectionLimits::Counts> m_counts;
    QString m_address;
};

} // namespace

ConnectionLimits::ConnectionLimits(int maxTotal, int maxPerAddress)
    : m_maxTotal(maxTotal)
    , m_maxPerAddress(maxPerAddress)
{
}

bool ConnectionLimits::admit(QTcpSocket *socket, HttpResponse *refusal)
{
    const QString address = socket->peerAddress().toString();
    const int fromAddress = m_counts->perAddress.value(address, 0);
    if (fromAddress >= m_maxPerAddress) {
        ++m_refused;
        *refusal = HttpResponse::error(429, QStringLiteral("RATE_LIMITED"),
                                       QStringLiteral("too many connections from %1 (at most %2)").arg(address).arg(m_maxPerAddress));
        return false;
    }
    if (m_counts->total >= m_maxTotal) {
        ++m_refused;
        *refusal = HttpResponse::error(503, QStringLiteral("RATE_LIMITED"),
                                       QStringLiteral("the server holds its maximum of %1 connections").arg(m_maxTotal));
        return false;
    }
    new ConnectionSlot(m_counts, address, socket); // owned by the socket
    return true;
}

} // namespace Runwatch
