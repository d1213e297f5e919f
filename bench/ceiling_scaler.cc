// ceiling_scaler: the fastest possible external scaler on the same gRPC C++
// library and server model as metrics-keda (callback API, health checking,
// reflection, the same channel arguments as src/main.cc). Every call gets one
// constant answer, so a load test against it measures gRPC alone: the ceiling
// the real scaler is compared with.
//
//   ceiling_scaler [--port P] [--value V] [--arg KEY=INT]... [--sarg KEY=TEXT]...
//                  [--deadlock-detection 0|1]
//
// --arg/--sarg add server channel arguments, to try options that may raise the
// ceiling; --deadlock-detection 0 turns off abseil's mutex deadlock detection,
// which Debian's abseil (built without NDEBUG) runs on every gRPC lock. Prints "listening on port
// N" once serving; exits 0 on SIGTERM/SIGINT.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "externalscaler.grpc.pb.h"

namespace {

class ConstantScaler final : public externalscaler::ExternalScaler::CallbackService {
 public:
  explicit ConstantScaler(double value) : value_(value) {}

  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context,
                                          const externalscaler::ScaledObjectRef*,
                                          externalscaler::GetMetricSpecResponse* out) override {
    externalscaler::MetricSpec* spec = out->add_metricspecs();
    spec->set_metricname("llm_load_avg");
    spec->set_targetsizefloat(0.7);
    spec->set_targetsize(1);
    return Done(context);
  }
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const externalscaler::GetMetricsRequest* in,
                                       externalscaler::GetMetricsResponse* out) override {
    externalscaler::MetricValue* value = out->add_metricvalues();
    value->set_metricname(in->metricname());
    value->set_metricvaluefloat(value_);
    value->set_metricvalue(static_cast<int64_t>(value_ + 0.999999));
    return Done(context);
  }
  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context,
                                     const externalscaler::ScaledObjectRef*,
                                     externalscaler::IsActiveResponse* out) override {
    out->set_result(value_ > 0);
    return Done(context);
  }

 private:
  static grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  const double value_;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "ceiling_scaler: %s\n", why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  int port = 0;
  double value = 500;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // as src/main.cc
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string arg = argv[++i];
    const size_t eq = arg.find('=');
    if (flag == "--port") {
      port = std::atoi(arg.c_str());
    } else if (flag == "--value") {
      value = std::atof(arg.c_str());
    } else if (flag == "--deadlock-detection") {
      if (arg == "0") absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    } else if (flag == "--arg" && eq != std::string::npos) {
      builder.AddChannelArgument(arg.substr(0, eq), std::atoi(arg.c_str() + eq + 1));
    } else if (flag == "--sarg" && eq != std::string::npos) {
      builder.AddChannelArgument(arg.substr(0, eq), arg.substr(eq + 1));
    } else {
      Usage("unknown flag or value: " + flag + " " + arg);
    }
  }
  ConstantScaler service(value);
  int bound_port = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) Usage("cannot listen on port " + std::to_string(port));
  std::printf("listening on port %d\n", bound_port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
