/// Process exit statuses, following sysexits(3) so that systemd and scripts can tell causes apart.
///
/// `RestartPreventExitStatus=78` in the unit files relies on `.configurationError`:
/// a daemon with a broken configuration must not be restarted in a loop.
public enum ExitStatus: Int32, Sendable {
    case success = 0
    case failure = 1
    case usage = 64
    case dataError = 65
    case unavailable = 69
    case software = 70
    case ioError = 74
    case configurationError = 78
}
