package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/seatd/seatd/transport"
)

// A backup is the leader's state machine in its snapshot format, taken with
// BACKUP on the membership service, which answers
//
//	BACKUP <applied-index> <size> <sha256-hex>\n
//
// followed by exactly size bytes. A backup file holds the same: one header
// line, then the bytes,
//
//	SEATD-BACKUP 1 index=<applied-index> size=<size> sha256=<hex>\n
//
// so that a truncated or altered file is refused before anything is
// restored from it (seatd --restore).

// backupMagic starts every backup file; 1 is the file format's version.
const backupMagic = "SEATD-BACKUP 1"

// MaxBackup bounds a backup's size (a million booked seats take about
// 25 MB).
const MaxBackup = 1 << 30

// ErrBadBackup marks a backup that is truncated, altered or not a backup.
var ErrBadBackup = errors.New("not a valid seatd backup")

// BackupTimeout bounds taking one backup over the network.
const BackupTimeout = 5 * time.Minute

// Backup is one backup: the state machine's snapshot bytes and the leader's
// applied index when it was taken.
type Backup struct {
	Index uint64
	State []byte
}

func (b *Backup) digest() string {
	sum := sha256.Sum256(b.State)
	return hex.EncodeToString(sum[:])
}

// answerBackup writes the BACKUP answer for b.
func answerBackup(w io.Writer, b *Backup) error {
	if _, err := fmt.Fprintf(w, "BACKUP %d %d %s\n", b.Index, len(b.State), b.digest()); err != nil {
		return err
	}
	_, err := w.Write(b.State)
	return err
}

// TakeBackup asks the node at addr for a backup (a follower carries the
// request to the leader) and checks what arrives against its size and
// digest.
func TakeBackup(d *transport.Dialer, addr string) (*Backup, error) {
	conn, err := d.Dial(transport.HeaderMembership, addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(BackupTimeout))
	if _, err := io.WriteString(conn, "BACKUP\n"); err != nil {
		return nil, fmt.Errorf("send to %s: %w", addr, err)
	}
	return readBackupAnswer(bufio.NewReader(conn), addr)
}

func readBackupAnswer(br *bufio.Reader, addr string) (*Backup, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("answer from %s: %w", addr, err)
	}
	line = strings.TrimSuffix(line, "\n")
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "BACKUP" {
		return nil, okOrError(line)
	}
	if len(f) != 4 {
		return nil, fmt.Errorf("%w: header %q from %s", ErrBadBackup, line, addr)
	}
	return readBackupBody(br, f[1], f[2], f[3])
}

// readBackupBody reads size bytes and checks them against the digest.
func readBackupBody(r io.Reader, index, size, digest string) (*Backup, error) {
	idx, err1 := strconv.ParseUint(index, 10, 64)
	n, err2 := strconv.ParseInt(size, 10, 64)
	if err1 != nil || err2 != nil || n < 0 || n > MaxBackup {
		return nil, fmt.Errorf("%w: index %q, size %q", ErrBadBackup, index, size)
	}
	b := &Backup{Index: idx, State: make([]byte, n)}
	if _, err := io.ReadFull(r, b.State); err != nil {
		return nil, fmt.Errorf("%w: truncated: %d bytes announced: %v", ErrBadBackup, n, err)
	}
	if got := b.digest(); got != digest {
		return nil, fmt.Errorf("%w: its sha256 is %s, the header says %s", ErrBadBackup, got, digest)
	}
	return b, nil
}

// WriteBackupFile writes b to path (mode 0600: it holds every holder's
// name), through a temporary file renamed into place once synced.
func WriteBackupFile(path string, b *Backup) error {
	tmp := path + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s index=%d size=%d sha256=%s\n", backupMagic, b.Index, len(b.State), b.digest())
	if err == nil {
		_, err = f.Write(b.State)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write backup %s: %w", path, err)
	}
	return nil
}

// ReadBackupFile reads and checks a backup file: its header, its size (no
// byte missing, none extra) and its digest. It does not decode the state
// (fsm.CheckSnapshot does).
func ReadBackupFile(path string) (*Backup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read backup: %w", err)
	}
	header, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: %s has no header line", ErrBadBackup, path)
	}
	f := strings.Fields(string(header))
	if len(f) != 5 || f[0]+" "+f[1] != backupMagic ||
		!strings.HasPrefix(f[2], "index=") || !strings.HasPrefix(f[3], "size=") || !strings.HasPrefix(f[4], "sha256=") {
		return nil, fmt.Errorf("%w: %s does not start with %q", ErrBadBackup, path, backupMagic+" index=… size=… sha256=…")
	}
	size := strings.TrimPrefix(f[3], "size=")
	if n, err := strconv.Atoi(size); err == nil && len(body) > n {
		return nil, fmt.Errorf("%w: %s has %d bytes after the %d its header announces", ErrBadBackup, path, len(body)-n, n)
	}
	b, err := readBackupBody(bytes.NewReader(body), strings.TrimPrefix(f[2], "index="), size, strings.TrimPrefix(f[4], "sha256="))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// relayBackup carries a BACKUP to the leader at addr and copies its whole
// answer, header and bytes, to w.
func relayBackup(stop context.Context, d *transport.Dialer, addr string, w io.Writer) error {
	conn, err := d.DialContext(stop, transport.HeaderMembership, addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer context.AfterFunc(stop, func() { conn.Close() })()
	conn.SetDeadline(time.Now().Add(BackupTimeout))
	if _, err := io.WriteString(conn, "RELAYED BACKUP\n"); err != nil {
		return err
	}
	_, err = io.Copy(w, conn)
	return err
}
