// Work inside another network namespace: a short-lived thread joins it (setns) and runs the work,
// so that no other thread of the process ever changes namespace. What such work creates keeps the
// namespace it was made in: a netlink socket, a tcx link or a clsact filter on an ifindex of that
// namespace, a BPF iterator over its sockets.
#include "common.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <thread>

namespace flowscope {

namespace {

int Enter(const std::string& netnsPath, std::string* op) {
  int ns = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    int e = errno;
    *op = "open network namespace " + netnsPath;
    return e;
  }
  int rc = setns(ns, CLONE_NEWNET);
  int e = errno;
  close(ns);
  if (rc != 0) {
    *op = "enter network namespace " + netnsPath;
    return e;
  }
  return 0;
}

}  // namespace

int InNetns(const std::string& netnsPath, const std::function<void()>& fn, std::string* op) {
  if (netnsPath.empty()) {
    fn();
    return 0;
  }
  int err = 0;
  std::thread t([&] {
    err = Enter(netnsPath, op);
    if (err == 0) fn();
  });
  t.join();
  return err;
}

}  // namespace flowscope
