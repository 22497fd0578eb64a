// Command conformance decodes recorded server-to-server frames the way a Mattermost server does, and encodes
// Mattermost-shaped frames for Isthmus to receive.
//
//	conformance decode [-json] FILE   FILE: JSON lines {"direction","path","topic","status","body"}
//	conformance encode < ids.json     prints JSON lines {"name","path","body"} (see encode.go)
//
// decode prints counts per topic, the keys Mattermost ignores, and every decode error or lost field; it exits 1 if
// there was any error.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type record struct {
	Direction string `json:"direction"` // "request" (what a server sent) or "answer" (what the peer replied)
	Path      string `json:"path"`
	Topic     string `json:"topic"`
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Test      string `json:"test"`
	Binary    bool   `json:"binary"`
}

type summary struct {
	Frames  int            `json:"frames"`
	Topics  map[string]int `json:"topics"`
	Ignored []string       `json:"ignored_keys"`
	Foreign map[string]int `json:"non_mattermost_topics"`
	Errors  []string       `json:"errors"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: conformance decode [-json] FILE | conformance encode < ids.json")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "decode":
		args := os.Args[2:]
		asJSON := len(args) > 0 && args[0] == "-json"
		if asJSON {
			args = args[1:]
		}
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "decode needs one file")
			os.Exit(2)
		}
		os.Exit(decodeFile(args[0], asJSON))
	case "encode":
		os.Exit(encodeMain())
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func decodeFile(name string, asJSON bool) int {
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	s := summary{Topics: map[string]int{}, Foreign: map[string]int{}}
	rt := &roundTrip{ignored: map[string]bool{}}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for scanner.Scan() {
		line++
		if strings.TrimSpace(scanner.Text()) == "" {
			continue
		}
		var rec record
		if err := json.Unmarshal(scanner.Bytes(), &rec); err != nil {
			s.Errors = append(s.Errors, fmt.Sprintf("line %d: not a record: %v", line, err))
			continue
		}
		s.Frames++
		key := rec.Direction + " " + label(rec)
		s.Topics[key]++
		p := &problems{}
		lostBefore := len(rt.lost)
		decodeRecord(&rec, p, rt, &s)
		where := fmt.Sprintf("line %d, %s %s", line, rec.Direction, label(rec))
		if rec.Test != "" {
			where += " (" + rec.Test + ")"
		}
		for _, msg := range p.list {
			s.Errors = append(s.Errors, where+": "+msg)
		}
		for _, msg := range rt.lost[lostBefore:] {
			s.Errors = append(s.Errors, where+": lost field "+msg)
		}
	}
	if err := scanner.Err(); err != nil {
		s.Errors = append(s.Errors, err.Error())
	}
	for k := range rt.ignored {
		s.Ignored = append(s.Ignored, k)
	}
	sort.Strings(s.Ignored)
	if asJSON {
		out, _ := json.Marshal(s)
		fmt.Println(string(out))
	} else {
		printSummary(&s)
	}
	if len(s.Errors) > 0 {
		return 1
	}
	return 0
}

func label(rec record) string {
	path := rec.Path
	if i := strings.LastIndex(path, "/remotecluster/"); i >= 0 {
		path = path[i+len("/remotecluster/"):]
	}
	switch {
	case strings.HasPrefix(path, "upload/"):
		path = "upload"
	case strings.HasSuffix(path, "/image"):
		path = "image"
	}
	if path == "msg" {
		return rec.Topic
	}
	return path
}

func printSummary(s *summary) {
	fmt.Printf("Go conformance harness: %d frames decoded as Mattermost does\n", s.Frames)
	keys := make([]string, 0, len(s.Topics))
	for k := range s.Topics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %6d  %s\n", s.Topics[k], k)
	}
	if len(s.Foreign) > 0 {
		fmt.Println("topics Mattermost does not have (it answers OK and ignores them):")
		for k, n := range s.Foreign {
			fmt.Printf("  %6d  %s\n", n, k)
		}
	}
	if len(s.Ignored) > 0 {
		fmt.Printf("keys Mattermost does not have (dropped on receipt): %s\n", strings.Join(s.Ignored, ", "))
	}
	if len(s.Errors) == 0 {
		fmt.Println("no decode errors, no lost fields")
		return
	}
	fmt.Printf("%d ERRORS (a Mattermost peer would reject or lose these):\n", len(s.Errors))
	seen := map[string]int{}
	for _, e := range s.Errors {
		seen[e]++
	}
	shown := 0
	for _, e := range s.Errors {
		if seen[e] == 0 {
			continue
		}
		if shown < 200 {
			fmt.Printf("  %s\n", e)
		}
		shown++
		seen[e] = 0
	}
	if shown > 200 {
		fmt.Printf("  ... and %d more\n", shown-200)
	}
}

// unmarshal decodes like Mattermost (plain json.Unmarshal, unknown keys ignored) and compares the round trip.
func unmarshal(p *problems, rt *roundTrip, raw []byte, v any, what string) bool {
	if err := json.Unmarshal(raw, v); err != nil {
		p.add("%s does not decode as Mattermost's %T, the whole message is refused: %v%s", what, v, err,
			pinpoint(raw, v))
		return false
	}
	compareJSON(raw, v, rt, what)
	return true
}

var syncTopics = map[string]bool{
	"sharedchannel_sync": true, "sharedchannel_membership": true, "sharedchannel_global_user_sync": true,
}

func decodeRecord(rec *record, p *problems, rt *roundTrip, s *summary) {
	if rec.Binary {
		return // file bytes or a multipart image: not JSON
	}
	body := []byte(rec.Body)
	kind := label(*rec)
	if rec.Direction == "answer" {
		if rec.Status != 200 {
			return // an AppError: the Mattermost sender only sees "not 200"
		}
		decodeAnswer(rec, kind, body, p, rt)
		return
	}
	var frame RemoteClusterFrame
	if !unmarshal(p, rt, body, &frame, "frame") {
		return
	}
	checkFrame(p, &frame)
	if rec.Topic != "" && frame.Msg.Topic != rec.Topic {
		p.add("msg.topic: %q, recorded as %q", frame.Msg.Topic, rec.Topic)
	}
	raw := []byte(frame.Msg.Payload)
	switch {
	case kind == "ping":
		if frame.Msg.Topic != "ping" {
			p.add("msg.topic: %q on /ping", frame.Msg.Topic)
		}
		var ping RemoteClusterPing
		if unmarshal(p, rt, raw, &ping, "payload") && ping.SentAt <= 0 {
			p.add("payload.sent_at: missing")
		}
	case kind == "confirm_invite":
		if frame.Msg.Topic != "invitation" {
			p.add("msg.topic: %q on /confirm_invite", frame.Msg.Topic)
		}
		var inv RemoteClusterInvite
		if unmarshal(p, rt, raw, &inv, "payload") {
			checkInvite(p, &inv)
		}
	case syncTopics[frame.Msg.Topic]:
		var m SyncMsg
		if unmarshal(p, rt, raw, &m, "payload") {
			checkSync(p, frame.Msg.Topic, &m)
		}
	case frame.Msg.Topic == "sharedchannel_invite":
		var m ChannelInviteMsg
		if unmarshal(p, rt, raw, &m, "payload") {
			checkChannelInvite(p, &m)
		}
	case frame.Msg.Topic == "sharedchannel_upload":
		var m UploadSession
		if unmarshal(p, rt, raw, &m, "payload") {
			checkUpload(p, &m)
		}
	case frame.Msg.Topic == "sharedchannel_unshare":
		var m UnshareMsg
		if unmarshal(p, rt, raw, &m, "payload") {
			p.id("payload.channel_id", m.ChannelId)
		}
	default:
		// Mattermost has no listener: it answers OK and drops the message, whatever the payload.
		s.Foreign[frame.Msg.Topic]++
	}
}

func decodeAnswer(rec *record, kind string, body []byte, p *problems, rt *roundTrip) {
	switch kind {
	case "ping":
		var ping RemoteClusterPing
		if unmarshal(p, rt, body, &ping, "answer") && ping.SentAt <= 0 {
			p.add("answer.sent_at: missing")
		}
		return
	case "upload":
		if len(body) == 0 {
			return // 204: more data expected
		}
		var fi FileInfo
		if unmarshal(p, rt, body, &fi, "answer") {
			p.id("answer.id", fi.Id)
		}
		return
	}
	var resp Response
	if !unmarshal(p, rt, body, &resp, "answer") {
		return
	}
	checkResponse(p, &resp)
	if kind == "confirm_invite" || kind == "image" || resp.Status != "OK" {
		return
	}
	raw := []byte(resp.Payload)
	switch {
	case syncTopics[kind]:
		// The sender moves its cursor only on a non-empty payload that decodes as a SyncResponse.
		if len(raw) == 0 || string(raw) == "null" {
			p.add("answer.payload: empty, a Mattermost sender would not count the message as delivered")
			return
		}
		var sr SyncResponse
		unmarshal(p, rt, raw, &sr, "answer.payload")
	case kind == "sharedchannel_upload":
		var us UploadSession
		if unmarshal(p, rt, raw, &us, "answer.payload") {
			p.id("answer.payload.id", us.Id)
		}
	}
}

// pinpoint names the items of a SyncMsg that fail on their own (json's error names only the field), so a report
// says which post or user to look at.
func pinpoint(raw []byte, v any) string {
	if _, ok := v.(*SyncMsg); !ok {
		return ""
	}
	var parts struct {
		Users     map[string]json.RawMessage `json:"users"`
		Posts     []json.RawMessage          `json:"posts"`
		Reactions []json.RawMessage          `json:"reactions"`
		Statuses  []json.RawMessage          `json:"statuses"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var out []string
	for k, item := range parts.Users {
		if err := json.Unmarshal(item, &User{}); err != nil {
			out = append(out, fmt.Sprintf("users[%s]: %v", k, err))
		}
	}
	items := func(name string, list []json.RawMessage, mk func() any) {
		for i, item := range list {
			if err := json.Unmarshal(item, mk()); err != nil {
				var id struct {
					Id string `json:"id"`
				}
				_ = json.Unmarshal(item, &id)
				out = append(out, fmt.Sprintf("%s[%d] (id %s): %v", name, i, id.Id, err))
			}
		}
	}
	items("posts", parts.Posts, func() any { return &Post{} })
	items("reactions", parts.Reactions, func() any { return &Reaction{} })
	items("statuses", parts.Statuses, func() any { return &Status{} })
	sort.Strings(out)
	if len(out) == 0 {
		return ""
	}
	return "; failing items: " + strings.Join(out, "; ")
}
