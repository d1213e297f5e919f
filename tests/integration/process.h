// Child processes for integration tests: the real nats-server, the simulated
// worker fleet and the scaler, each started on free loopback ports, with output
// captured to a file and stopped (or killed) on demand or at destruction.
#ifndef METRICS_KEDA_TESTS_INTEGRATION_PROCESS_H_
#define METRICS_KEDA_TESTS_INTEGRATION_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mk::testing {

// A port that was free a moment ago on 127.0.0.1.
int FreePort();

// A directory for this test's files, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class Process {
 public:
  // Starts `argv` with stdout and stderr appended to `log_path`.
  Process(std::vector<std::string> argv, std::string log_path);
  ~Process();  // SIGKILL if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Sends `signal` and waits up to `timeout`; the exit status, or nothing if it
  // did not exit in time (it is then killed).
  std::optional<int> Stop(int signal, std::chrono::milliseconds timeout);
  // Waits up to `timeout` for the process to exit by itself; its exit status.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running();
  // Waits until the log contains `text`; false on timeout or early exit.
  bool WaitForOutput(const std::string& text, std::chrono::milliseconds timeout);
  std::string Output() const;
  pid_t pid() const { return pid_; }

  // What the running process holds, from /proc.
  struct Resources {
    size_t open_fds = 0;
    size_t threads = 0;
    size_t rss_kib = 0;
  };
  Resources Usage() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string log_path_;
};

// Where the project's executables and nats-server are.
std::string BinaryPath(const std::string& name);

// Writes the tests' certificates (make_certs.sh: a CA, a server certificate for
// localhost and 127.0.0.1, a client certificate) into `dir`. Empty when done, else
// what the script said.
std::string MakeCertificates(const std::string& dir);
std::string NatsServerPath();

}  // namespace mk::testing

#endif  // METRICS_KEDA_TESTS_INTEGRATION_PROCESS_H_
