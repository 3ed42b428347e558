package job

import (
	"fmt"
	"path/filepath"
)

// Work dir layout (Manager.WorkDir):
//
//	state.json           groups and jobs (atomic writes)
//	run/warren/group.<g>.sock  a group host's service {warren, group.<g>} (service library socket dir run/)
//	run/<group>.lock     flock held by the group host (one host per group)
//	logs/<job id>.log    a job's stdout and stderr, timestamped, rotated (.1, .2, ...)
//	logs/group-<g>.log   a group host's own log

func statePath(wd string) string       { return filepath.Join(wd, "state.json") }
func runDir(wd string) string          { return filepath.Join(wd, "run") }
func logDir(wd string) string          { return filepath.Join(wd, "logs") }
func lockPath(wd, group string) string { return filepath.Join(runDir(wd), group+".lock") }
func jobLogPath(wd, id string) string  { return filepath.Join(logDir(wd), id+".log") }
func groupLogPath(wd, g string) string { return filepath.Join(logDir(wd), "group-"+g+".log") }
func sockPathRaw(sockDir, group string) string {
	return filepath.Join(sockDir, hostPublisher, hostServiceName(group)+".sock")
}

// maxSockPath is the room in sockaddr_un.sun_path, less the terminating NUL.
const maxSockPath = 107

// sockPath is where the service library puts a group host's socket in
// sockDir; it must fit in a sockaddr_un.
func sockPath(sockDir, group string) (string, error) {
	p := sockPathRaw(sockDir, group)
	if len(p) > maxSockPath {
		return "", fmt.Errorf("job: group %q: socket path %s is longer than %d bytes; use a shorter work dir, socket dir or group name", group, p, maxSockPath)
	}
	return p, nil
}
