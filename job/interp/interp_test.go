package interp_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/job/interp"
)

func prog(name string) string { return filepath.Join("testdata", "run", name) }

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want interp.Mode
		err  bool
	}{
		{"", interp.Auto, false}, {"auto", interp.Auto, false}, {"interpreted", interp.Interpreted, false},
		{"Compiled", interp.Compiled, false}, {"fast", "", true},
	} {
		got, err := interp.ParseMode(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseMode(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, interp.ErrBadMode) {
			t.Errorf("ParseMode(%q) error %v is not ErrBadMode", tc.in, err)
		}
	}
}

// TestInterpretedSeesItsOwnWorld: args, env, working directory, stdin and
// both output streams are the program's own, not the host's.
func TestInterpretedSeesItsOwnWorld(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	var out, errb bytes.Buffer
	dir, _ := filepath.Abs(filepath.Join("testdata", "run"))
	res, err := interp.Run(context.Background(), interp.Program{
		Path: prog("args_env.go"), Args: []string{"-x", "y"}, Env: []string{"GREETING=hi"}, Dir: dir,
		Stdin: strings.NewReader("a\nb\n"), Stdout: &out, Stderr: &errb,
	}, interp.Interpreted)
	if err != nil || res.ExitCode != 0 || res.ModeUsed != interp.Interpreted {
		t.Fatalf("Run = %+v, %v (stderr %q)", res, err, errb.String())
	}
	want := "args: [-x y]\nenv: hi true\ndir: run\nfile: \"hello file\\n\" <nil>\nin: a\nin: b\n"
	if out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
	if errb.String() != "to stderr\n" {
		t.Errorf("stderr = %q", errb.String())
	}
}

// TestInterpretedPackageDir: a directory holding a main package of several
// files runs as one program.
func TestInterpretedPackageDir(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	var out bytes.Buffer
	res, err := interp.Run(context.Background(), interp.Program{Path: filepath.Join("testdata", "multi"), Stdout: &out}, interp.Interpreted)
	if err != nil || res.ExitCode != 0 || out.String() != "2s [1 2 3]\n" {
		t.Fatalf("Run = %+v, %v, %q", res, err, out.String())
	}
}

// TestInterpretedImportsService: warren's service library is importable.
func TestInterpretedImportsService(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	var out bytes.Buffer
	res, err := interp.Run(context.Background(), interp.Program{Path: prog("service.go"), Stdout: &out}, interp.Interpreted)
	if err != nil || res.ExitCode != 0 || out.String() != "true true\n" {
		t.Fatalf("Run = %+v, %v, %q", res, err, out.String())
	}
}

// TestInterpretedExit: os.Exit(3) ends the program only, with code 3, and
// runs none of its deferred calls.
func TestInterpretedExit(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	var out bytes.Buffer
	res, err := interp.Run(context.Background(), interp.Program{Path: prog("exit3.go"), Stdout: &out}, interp.Interpreted)
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if out.String() != "before\n" {
		t.Errorf("stdout = %q", out.String())
	}
}

// TestInterpretedErrors: a panic and a compile error are *Errors naming the
// user's file and line; a compile error is a rejection (auto falls back).
func TestInterpretedErrors(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	for _, tc := range []struct {
		file     string
		line     int
		msg      string
		code     int
		rejected bool
	}{
		{"panic.go", 6, "panic: assignment to entry in nil map", 2, false},
		{"compile_error.go", 6, "undefined: undefinedThing", 1, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := interp.Run(context.Background(), interp.Program{Path: prog(tc.file)}, interp.Interpreted)
			var ie *interp.Error
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want *interp.Error", err, err)
			}
			if filepath.Base(ie.File) != tc.file || ie.Line != tc.line || !strings.Contains(ie.Msg, tc.msg) {
				t.Errorf("error = %s:%d %q, want %s:%d %q", ie.File, ie.Line, ie.Msg, tc.file, tc.line, tc.msg)
			}
			if res.ExitCode != tc.code {
				t.Errorf("exit code = %d, want %d", res.ExitCode, tc.code)
			}
			if errors.Is(err, interp.ErrRejected) != tc.rejected {
				t.Errorf("errors.Is(err, ErrRejected) = %v", !tc.rejected)
			}
		})
	}
}

// TestCompiledModeAndCache: compiled mode builds once, then runs the cached
// binary; auto mode falls back to it for a program the interpreter rejects.
func TestCompiledModeAndCache(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	cache := t.TempDir()
	p := interp.Program{Path: prog("exit3.go")}
	_, cached, err := interp.Build(context.Background(), p, interp.WithBuildCache(cache))
	if err != nil || cached {
		t.Fatalf("first Build: cached=%v err=%v", cached, err)
	}
	bin, cached, err := interp.Build(context.Background(), p, interp.WithBuildCache(cache))
	if err != nil || !cached || !strings.HasPrefix(bin, cache) {
		t.Fatalf("second Build: %s cached=%v err=%v", bin, cached, err)
	}
	var out bytes.Buffer
	res, err := interp.Run(context.Background(), interp.Program{Path: prog("exit3.go"), Stdout: &out}, interp.Compiled, interp.WithBuildCache(cache))
	if err != nil || res.ExitCode != 3 || res.ModeUsed != interp.Compiled || out.String() != "before\n" {
		t.Fatalf("compiled Run = %+v, %v, %q", res, err, out.String())
	}
	out.Reset()
	var errOut bytes.Buffer
	res, err = interp.Run(context.Background(), interp.Program{Path: prog("needs_compiler.go"), Stdout: &out, Stderr: &errOut}, interp.Auto, interp.WithBuildCache(cache))
	if err != nil || res.ModeUsed != interp.Compiled || !strings.Contains(res.Note, "os/exec") || out.String() != "compiled: true\n" {
		t.Fatalf("auto Run = %+v, %v, %q", res, err, out.String())
	}
	// The fallback is said on the program's stderr (the job log of a daemon job).
	if want := "warren: " + res.Note + "\n"; errOut.String() != want {
		t.Fatalf("auto Run stderr = %q, want %q", errOut.String(), want)
	}
	// A panic in a compiled program is an *Error too.
	_, err = interp.Run(context.Background(), interp.Program{Path: prog("panic.go")}, interp.Compiled, interp.WithBuildCache(cache))
	var ie *interp.Error
	if !errors.As(err, &ie) || ie.Line != 6 || !strings.Contains(ie.Msg, "assignment to entry in nil map") {
		t.Fatalf("compiled panic: %v", err)
	}
}

// TestExecCLI drives `warren exec` (built without -race): the program's
// own flags after its path, exit codes, and a panic in a goroutine that
// ends the program, not the host, with the user's file and line.
func TestExecCLI(t *testing.T) {
	bin := testutil.WarrenBinary(t)
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, append([]string{"exec"}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	for _, mode := range []string{"interpreted", "compiled"} {
		out, _, code := run("--mode", mode, prog("flags.go"), "-n", "5", "rest")
		if code != 0 || out != "n = 5 [rest]\n" {
			t.Errorf("%s flags: code %d out %q", mode, code, out)
		}
		_, errOut, code := run("--mode", mode, prog("flags.go"), "-h")
		if code != 0 || !strings.Contains(errOut, "how many") {
			t.Errorf("%s -h: code %d stderr %q", mode, code, errOut)
		}
		out, _, code = run("--mode", mode, prog("exit3.go"))
		if code != 3 || out != "before\n" {
			t.Errorf("%s exit: code %d out %q", mode, code, out)
		}
		out, errOut, code = run("--mode", mode, prog("gopanic.go"))
		if code != 2 || out != "start\n" || !strings.Contains(errOut, "gopanic.go:11") || !strings.Contains(errOut, "boom in goroutine") {
			t.Errorf("%s goroutine panic: code %d out %q stderr %q", mode, code, out, errOut)
		}
		// A callback that native code runs on its own goroutine.
		out, errOut, code = run("--mode", mode, prog("afterfunc_panic.go"))
		if code != 2 || out != "start\n" || !strings.Contains(errOut, "afterfunc_panic.go:11") || !strings.Contains(errOut, "boom in AfterFunc") {
			t.Errorf("%s AfterFunc panic: code %d out %q stderr %q", mode, code, out, errOut)
		}
	}
	_, errOut, code := run("--mode", "bogus", prog("exit3.go"))
	if code != 2 || !strings.Contains(errOut, "unknown mode") {
		t.Errorf("bad mode: code %d stderr %q", code, errOut)
	}
	_, errOut, code = run(filepath.Join(t.TempDir(), "missing.go"))
	if code == 0 || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: code %d stderr %q", code, errOut)
	}
	if _, err := os.Stat(prog("data.txt")); err != nil {
		t.Fatal(err)
	}
}
