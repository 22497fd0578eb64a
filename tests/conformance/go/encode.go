package main

// Mattermost-shaped frames, encoded by Go's encoding/json exactly as a Mattermost server would send them: nil
// slices and maps become null, omitempty fields vanish, zero ints stay 0, and <, > and & are escaped.

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os"
)

// newId is model.NewId: 16 random bytes, base32 with Mattermost's alphabet, padding dropped.
func newId() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	enc := base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)
	return enc.EncodeToString(b)
}

// Ids come from the test (so it can look the results up); every field is a Mattermost id unless noted.
type encodeInput struct {
	RemoteId       string   `json:"remote_id"`       // the connection id (both sides)
	SiteURL        string   `json:"site_url"`        // the "Mattermost" peer's URL (confirm_invite)
	Token          string   `json:"token"`           // the token the peer wants presented to it
	RefreshedToken string   `json:"refreshed_token"` // the token it will present from now on
	ChannelId      string   `json:"channel_id"`
	ChannelName    string   `json:"channel_name"`
	CreatorId      string   `json:"creator_id"`
	Users          []string `json:"users"`         // three user ids owned by the peer (the third: global sync)
	Posts          []string `json:"posts"`         // a root, a reply, and a post with priority metadata
	LocalUser      string   `json:"local_user"`    // a user of the receiving server (the DM partner)
	DMChannelId    string   `json:"dm_channel_id"` // the DM's id (Mattermost keeps it on both sides)
	Now            int64    `json:"now"`
}

type encoded struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Body string `json:"body"`
}

func encodeMain() int {
	var in encodeInput
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil || len(in.Users) < 3 || len(in.Posts) < 3 {
		fmt.Fprintln(os.Stderr, "encode: bad input (need remote_id, 3 users, 3 posts)", err)
		return 2
	}
	out := json.NewEncoder(os.Stdout)
	emit := func(name, path, topic string, payload any) {
		raw, err := json.Marshal(payload)
		if err != nil {
			panic(err)
		}
		frame := RemoteClusterFrame{RemoteId: in.RemoteId, Msg: RemoteClusterMsg{
			Id: newId(), Topic: topic, CreateAt: in.Now, Payload: raw}}
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
			Password: newId(), Email: fmt.Sprintf("gopher%d@mm.example", i), Nickname: "Go", FirstName: "Go",
			LastName: fmt.Sprintf("Pher%d", i), Roles: "system_user", Locale: "en",
			Props:    StringMap{"customStatus": ""},
			Timezone: StringMap{"automaticTimezone": "Europe/Berlin", "manualTimezone": "", "useAutomaticTimezone": "true"}}
	}
	users[in.Users[1]].Timezone = nil // a user who never set one: "timezone": null
	users[in.Users[1]].Props = nil    // and no props at all: omitted
	emit("sync_users", "msg", "sharedchannel_sync", SyncMsg{Id: newId(), ChannelId: in.ChannelId, Users: users})
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
	emit("sync_posts", "msg", "sharedchannel_sync", SyncMsg{Id: newId(), ChannelId: in.ChannelId,
		Posts: []*Post{root, reply, flagged}})
	emit("sync_reactions", "msg", "sharedchannel_sync", SyncMsg{Id: newId(), ChannelId: in.ChannelId,
		Reactions: []*Reaction{{UserId: u1.Id, PostId: root.Id, EmojiName: "tada", CreateAt: in.Now - 10,
			UpdateAt: in.Now - 10, ChannelId: in.ChannelId}}})
	emit("sync_statuses", "msg", "sharedchannel_sync", SyncMsg{Id: newId(), ChannelId: in.ChannelId,
		Statuses: []*Status{{UserId: u0.Id, Status: "dnd", Manual: true, LastActivityAt: in.Now}}})
	prioAck := &PostAcknowledgement{UserId: u1.Id, PostId: flagged.Id, AcknowledgedAt: in.Now, ChannelId: in.ChannelId}
	emit("sync_acknowledgements", "msg", "sharedchannel_sync", SyncMsg{Id: newId(), ChannelId: in.ChannelId,
		Acknowledgements: []*PostAcknowledgement{prioAck}})
	// §8.3: global user sync, no channel, only users (one not seen in any channel before).
	u2 := &User{Id: in.Users[2], CreateAt: in.Now - 1000, UpdateAt: in.Now - 400, Username: "gopher2",
		Password: newId(), Email: "gopher2@mm.example", Roles: "system_user", Locale: "en"}
	emit("global_user_sync", "msg", "sharedchannel_global_user_sync", SyncMsg{Id: newId(),
		Users: map[string]*User{u2.Id: u2}})
	// §8.2 legacy membership message: u1 (already synced, so not in users) joined the channel on the Mattermost
	// side at change_time; it counts as delivered only if listed in users_syncd.
	emit("membership", "msg", "sharedchannel_membership", SyncMsg{Id: newId(), ChannelId: in.ChannelId,
		MembershipChanges: []*MembershipChangeMsg{{ChannelId: in.ChannelId, UserId: u1.Id, IsAdd: true,
			RemoteId: in.RemoteId, ChangeTime: in.Now - 200}}})
	// §8.1: a DM between the peer's u0 and the receiver's local user.
	if in.LocalUser != "" && in.DMChannelId != "" {
		emit("dm_invite", "msg", "sharedchannel_invite", ChannelInviteMsg{ChannelId: in.DMChannelId, Type: "D",
			CreatorId: u0.Id, DirectParticipantIDs: []string{u0.Id, in.LocalUser}, DirectParticipants: []*User{u0}})
	}
	// An unknown topic from a newer Mattermost: the receiver must answer OK and ignore it.
	emit("unknown_topic", "msg", "sharedchannel_future_topic", map[string]any{"channel_id": in.ChannelId})
	return 0
}
