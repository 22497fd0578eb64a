package main

// Mattermost's validity checks after decoding (model IsValid and the receive handlers' own checks), and the
// round-trip comparison that finds fields lost between what we sent and what Mattermost keeps.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// isValidId is model.IsValidId: 26 characters, letters and digits only.
func isValidId(v string) bool {
	if len(v) != 26 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

type problems struct{ list []string }

func (p *problems) add(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) id(path, v string) {
	if !isValidId(v) {
		p.add("%s: %q is not a valid id (26 letters/digits)", path, v)
	}
}

func (p *problems) optId(path, v string) {
	if v != "" {
		p.id(path, v)
	}
}

func checkFrame(p *problems, f *RemoteClusterFrame) {
	p.id("remote_id", f.RemoteId)
	p.id("msg.id", f.Msg.Id)
	if f.Msg.Topic == "" {
		p.add("msg.topic: empty")
	}
	if len(f.Msg.Payload) == 0 {
		p.add("msg.payload: missing (Mattermost rejects a frame without payload)")
	}
}

func checkInvite(p *problems, inv *RemoteClusterInvite) {
	p.id("payload.remote_id", inv.RemoteId)
	if inv.Token == "" {
		p.add("payload.token: empty")
	}
	if !strings.HasPrefix(inv.SiteURL, "http://") && !strings.HasPrefix(inv.SiteURL, "https://") {
		p.add("payload.site_url: %q is not an absolute URL", inv.SiteURL)
	}
}

func checkUser(p *problems, path string, u *User) {
	if u == nil {
		p.add("%s: null user", path)
		return
	}
	p.id(path+".id", u.Id)
	if u.Username == "" {
		p.add("%s.username: empty", path)
	}
}

func checkPost(p *problems, path, channelId string, post *Post) {
	if post == nil {
		p.add("%s: null post", path)
		return
	}
	p.id(path+".id", post.Id)
	p.id(path+".user_id", post.UserId)
	p.optId(path+".root_id", post.RootId)
	if channelId != "" && post.ChannelId != channelId {
		p.add("%s.channel_id: %q is not the message's channel %q (post_errors)", path, post.ChannelId, channelId)
	}
	for i, u := range post.Participants {
		checkUser(p, fmt.Sprintf("%s.participants[%d]", path, i), u)
	}
}

func checkSync(p *problems, topic string, m *SyncMsg) {
	if topic == "sharedchannel_global_user_sync" {
		if m.ChannelId != "" {
			p.add("payload.channel_id: must be empty for global user sync")
		}
		if len(m.Posts)+len(m.Reactions)+len(m.Statuses) > 0 {
			p.add("payload: global user sync carries posts/reactions/statuses (rejected)")
		}
	} else {
		p.optId("payload.channel_id", m.ChannelId)
	}
	for k, u := range m.Users {
		checkUser(p, "payload.users["+k+"]", u)
		if u != nil && u.Id != k {
			p.add("payload.users[%s]: key is not the user's id %q", k, u.Id)
		}
	}
	for i, post := range m.Posts {
		checkPost(p, fmt.Sprintf("payload.posts[%d]", i), m.ChannelId, post)
	}
	for i, r := range m.Reactions {
		path := fmt.Sprintf("payload.reactions[%d]", i)
		if r == nil {
			p.add("%s: null", path)
			continue
		}
		p.id(path+".user_id", r.UserId)
		p.id(path+".post_id", r.PostId)
		if r.EmojiName == "" {
			p.add("%s.emoji_name: empty", path)
		}
	}
	for i, s := range m.Statuses {
		path := fmt.Sprintf("payload.statuses[%d]", i)
		if s == nil {
			p.add("%s: null", path)
			continue
		}
		p.id(path+".user_id", s.UserId)
		switch s.Status {
		case "online", "away", "dnd", "offline", "out_of_office":
		default:
			p.add("%s.status: %q is not a Mattermost status", path, s.Status)
		}
	}
	for i, c := range m.MembershipChanges {
		path := fmt.Sprintf("payload.membership_changes[%d]", i)
		if c == nil {
			p.add("%s: null", path)
			continue
		}
		p.id(path+".channel_id", c.ChannelId)
		p.id(path+".user_id", c.UserId)
	}
	for i, a := range m.Acknowledgements {
		path := fmt.Sprintf("payload.acknowledgements[%d]", i)
		if a == nil {
			p.add("%s: null", path)
			continue
		}
		p.id(path+".user_id", a.UserId)
		p.id(path+".post_id", a.PostId)
	}
	for mention, uid := range m.MentionTransforms {
		p.id("payload.mention_transforms["+mention+"]", uid)
	}
}

func checkChannelInvite(p *problems, m *ChannelInviteMsg) {
	p.id("payload.channel_id", m.ChannelId)
	switch m.Type {
	case "O", "P":
		if m.Name == "" {
			p.add("payload.name: empty")
		}
	case "D", "G":
		if len(m.DirectParticipantIDs) < 2 {
			p.add("payload.direct_participant_ids: a DM/GM invite needs its participants")
		}
	default:
		p.add("payload.type: %q is not a channel type", m.Type)
	}
	for i, id := range m.DirectParticipantIDs {
		p.id(fmt.Sprintf("payload.direct_participant_ids[%d]", i), id)
	}
	for i, u := range m.DirectParticipants {
		checkUser(p, fmt.Sprintf("payload.direct_participants[%d]", i), u)
	}
}

func checkUpload(p *problems, u *UploadSession) {
	p.id("payload.id", u.Id)
	p.id("payload.user_id", u.UserId)
	p.id("payload.channel_id", u.ChannelId)
	p.id("payload.req_file_id", u.ReqFileId)
	if u.Type != "attachment" {
		p.add("payload.type: %q, Mattermost expects \"attachment\"", u.Type)
	}
	if u.Filename == "" {
		p.add("payload.filename: empty")
	}
}

func checkResponse(p *problems, r *Response) {
	if r.Status != "OK" && r.Status != "FAIL" {
		p.add("status: %q is neither OK nor FAIL", r.Status)
	}
}

// roundTrip compares the JSON we received with what Mattermost re-encodes from its struct. A key whose type has no
// such field is recorded in ignored (Mattermost drops it silently); a known key whose value does not survive is a
// lost field (an error).
type roundTrip struct {
	ignored map[string]bool
	lost    []string
}

func compareJSON(raw []byte, v any, rt *roundTrip, path string) {
	out, err := json.Marshal(v)
	if err != nil {
		rt.lost = append(rt.lost, fmt.Sprintf("%s: re-encoding failed: %v", path, err))
		return
	}
	var in, back any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&in) != nil {
		return
	}
	dec = json.NewDecoder(strings.NewReader(string(out)))
	dec.UseNumber()
	_ = dec.Decode(&back)
	walk(in, back, reflect.TypeOf(v), rt, path)
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// jsonFields maps the JSON keys of a struct type to their field types (json:"-" fields excluded).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name := strings.Split(tag, ",")[0]
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func walk(in, back any, t reflect.Type, rt *roundTrip, path string) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || t == reflect.TypeOf(json.RawMessage{}) {
		return // any / raw: kept as is
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := in.(map[string]any)
		if !ok {
			return
		}
		bm, _ := back.(map[string]any)
		fields := jsonFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, known := fields[k]
			if !known {
				rt.ignored[t.Name()+"."+k] = true
				continue
			}
			bv, present := bm[k]
			if !present {
				if !isZero(m[k]) {
					rt.lost = append(rt.lost, fmt.Sprintf("%s.%s: value %s dropped on re-encoding", path, k, short(m[k])))
				}
				continue
			}
			walk(m[k], bv, ft, rt, path+"."+k)
		}
	case reflect.Map:
		m, ok := in.(map[string]any)
		if !ok {
			return
		}
		bm, _ := back.(map[string]any)
		for k, v := range m {
			walk(v, bm[k], t.Elem(), rt, path+"["+k+"]")
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return // []byte travels as base64
		}
		a, ok := in.([]any)
		if !ok {
			return
		}
		b, _ := back.([]any)
		if len(a) != len(b) {
			rt.lost = append(rt.lost, fmt.Sprintf("%s: %d items became %d", path, len(a), len(b)))
			return
		}
		for i := range a {
			walk(a[i], b[i], t.Elem(), rt, fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if fmt.Sprint(in) != fmt.Sprint(back) && !(isZero(in) && isZero(back)) {
			rt.lost = append(rt.lost, fmt.Sprintf("%s: %s became %s", path, short(in), short(back)))
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
