package main

// Mattermost-shaped frames, encoded by Go's encoding/json exactly as a Mattermost server would send them: nil
// slices and maps become null, omitempty fields vanish, zero ints stay 0, and <, > and & are escaped.

import (
	"encoding/json"
	"fmt"
	"os"
)

// Ids come from the test (so it can look the results up); every field is a Mattermost id unless noted.
type encodeInput struct {
	RemoteId       string   `json:"remote_id"`       // the connection id (both sides)
	SiteURL        string   `json:"site_url"`        // the "Mattermost" peer's URL (confirm_invite)
	Token          string   `json:"token"`           // the token the peer wants presented to it
	RefreshedToken string   `json:"refreshed_token"` // the token it will present from now on
	ChannelId      string   `json:"channel_id"`
	ChannelName    string   `json:"channel_name"`
	CreatorId      string   `json:"creator_id"`
	Users          []string `json:"users"`   // two user ids owned by the peer
	Posts          []string `json:"posts"`   // three post ids: a root, a reply, and a root with participants
	MsgIds         []string `json:"msg_ids"` // one per frame
	Now            int64    `json:"now"`
}

type encoded struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Body string `json:"body"`
}

func encodeMain() int {
	var in encodeInput
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil || len(in.Users) < 2 || len(in.Posts) < 3 ||
		len(in.MsgIds) < 12 {
		fmt.Fprintln(os.Stderr, "encode: bad input (need remote_id, 2 users, 3 posts, 12 msg_ids)", err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	n := 0
	emit := func(name, path, topic string, payload any) {
		raw, err := json.Marshal(payload)
		if err != nil {
			panic(err)
		}
		frame := RemoteClusterFrame{RemoteId: in.RemoteId, Msg: RemoteClusterMsg{
			Id: in.MsgIds[n], Topic: topic, CreateAt: in.Now, Payload: raw}}
		n++
		body, err := json.Marshal(frame)
		if err != nil {
			panic(err)
		}
		_ = out.Encode(encoded{Name: name, Path: path, Body: string(body)})
	}
	// §2.4 step 3: the acceptor confirms the invite (version 3, refreshed token).
	emit("confirm_invite", "confirm_invite", "invitation", RemoteClusterInvite{
		RemoteId: in.RemoteId, SiteURL: in.SiteURL, Token: in.Token, RefreshedToken: in.RefreshedToken, Version: 3})
	emit("ping", "ping", "ping", RemoteClusterPing{SentAt: in.Now})
	// A channel invite as channelinvite.go sends it: team_id never filled, no participants (nil → null).
	emit("channel_invite", "msg", "sharedchannel_invite", ChannelInviteMsg{
		ChannelId: in.ChannelId, Name: in.ChannelName, DisplayName: "Go <&> room", Header: "", Purpose: "p",
		Type: "O", CreatorId: in.CreatorId})
	remote := in.RemoteId
	users := map[string]*User{}
	for i, id := range in.Users[:2] {
		// After sanitizeUserForSync: random password, system_user, empty notify props (nil → omitted), picture 0.
		users[id] = &User{Id: id, CreateAt: in.Now - 1000, UpdateAt: in.Now - 500, Username: fmt.Sprintf("gopher%d", i),
			Password: in.MsgIds[11], Email: fmt.Sprintf("gopher%d@mm.example", i), Nickname: "Go", FirstName: "Go",
			LastName: fmt.Sprintf("Pher%d", i), Roles: "system_user", Locale: "en",
			Props:    StringMap{"customStatus": ""},
			Timezone: StringMap{"automaticTimezone": "Europe/Berlin", "manualTimezone": "", "useAutomaticTimezone": "true"}}
	}
	users[in.Users[1]].Timezone = nil // a user who never set one: "timezone": null
	users[in.Users[1]].Props = nil    // and no props at all: omitted
	emit("sync_users", "msg", "sharedchannel_sync", SyncMsg{Id: in.MsgIds[8], ChannelId: in.ChannelId, Users: users})
	u0, u1 := users[in.Users[0]], users[in.Users[1]]
	root := &Post{Id: in.Posts[0], CreateAt: in.Now - 300, UpdateAt: in.Now - 100, UserId: u0.Id,
		ChannelId: in.ChannelId, Message: "hello from Go <b>&</b>", Props: StringInterface{"from_go": true},
		ReplyCount: 1, LastReplyAt: in.Now - 100, Participants: []*User{u0, u1}, RemoteId: &remote,
		Metadata: &PostMetadata{}}
	reply := &Post{Id: in.Posts[1], CreateAt: in.Now - 100, UpdateAt: in.Now - 100, UserId: u1.Id,
		ChannelId: in.ChannelId, RootId: root.Id, Message: "a reply", Metadata: &PostMetadata{}}
	prio, yes := "important", true
	flagged := &Post{Id: in.Posts[2], CreateAt: in.Now - 50, UpdateAt: in.Now - 50, UserId: u0.Id,
		ChannelId: in.ChannelId, Message: "important one", Hashtags: "", FileIds: StringArray{},
		Metadata: &PostMetadata{Priority: &PostPriority{Priority: &prio, RequestedAck: &yes}}}
	emit("sync_posts", "msg", "sharedchannel_sync", SyncMsg{Id: in.MsgIds[9], ChannelId: in.ChannelId,
		Posts: []*Post{root, reply, flagged}})
	emit("sync_reactions", "msg", "sharedchannel_sync", SyncMsg{Id: in.MsgIds[10], ChannelId: in.ChannelId,
		Reactions: []*Reaction{{UserId: u1.Id, PostId: root.Id, EmojiName: "tada", CreateAt: in.Now - 10,
			UpdateAt: in.Now - 10, ChannelId: in.ChannelId}}})
	emit("sync_statuses", "msg", "sharedchannel_sync", SyncMsg{Id: in.MsgIds[11], ChannelId: in.ChannelId,
		Statuses: []*Status{{UserId: u0.Id, Status: "dnd", Manual: true, LastActivityAt: in.Now}}})
	// An unknown topic from a newer Mattermost: the receiver must answer OK and ignore it.
	emit("unknown_topic", "msg", "sharedchannel_future_topic", map[string]any{"channel_id": in.ChannelId})
	return 0
}
