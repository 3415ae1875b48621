// Lab client: the AWS SDK for Go v1 as Debian packages it (golang-github-aws-aws-sdk-go-dev).
// Built by test/support/lab/real-clients.ts in GOPATH mode against /usr/share/gocode.
//
//	go-sdk-v1 metadata     ec2metadata.New(session).GetMetadata("instance-id")
//	go-sdk-v1 credentials  the session's default credential chain (ends at EC2RoleProvider)
//
// Prints only whether it got an answer: never a value.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go/aws/ec2metadata"
	"github.com/aws/aws-sdk-go/aws/session"
)

func main() {
	sess := session.Must(session.NewSession())
	mode := "credentials"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "metadata":
		_, err := ec2metadata.New(sess).GetMetadata("instance-id")
		report(err)
	default:
		_, err := sess.Config.Credentials.Get()
		report(err)
	}
}

func report(err error) {
	if err != nil {
		fmt.Println("error")
		os.Exit(1)
	}
	fmt.Println("ok")
}
