package callback

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
)

// signature is one of the request's signature headers with its nonce.
type signature struct {
	version      int // 3 or 2
	value, nonce string
	v2           *signature // the V2 headers besides V3, with WithSignatureV2
}

// key is what the nonce is claimed as. The nonce alone identifies a
// request Plivo signed (it is random per request and covered by the
// signature), where the signature header would not: a header may list
// several signatures, in any order, so its text is the client's to vary.
func (s signature) key() string {
	return fmt.Sprintf("v%d:%s", s.version, s.nonce)
}

// signature reads the signature headers: V3 when it is there (and the V2
// ones besides, with WithSignatureV2), else V2 when it is accepted.
func (v *Verifier) signature(r *http.Request) (signature, error) {
	hasV3 := r.Header.Get(HeaderSignatureV3) != "" || r.Header.Get(HeaderNonceV3) != ""
	if v.v2 && !hasV3 {
		return readSignature(r, 2, HeaderSignatureV2, HeaderNonceV2)
	}
	s, err := readSignature(r, 3, HeaderSignatureV3, HeaderNonceV3)
	if err == nil && v.v2 {
		if v2, err := readSignature(r, 2, HeaderSignatureV2, HeaderNonceV2); err == nil {
			s.v2 = &v2
		}
	}
	return s, err
}

// readSignature reads one kind of signature headers, both of which must be
// there.
func readSignature(r *http.Request, version int, header, nonceHeader string) (signature, error) {
	s := signature{version: version, value: r.Header.Get(header), nonce: r.Header.Get(nonceHeader)}
	switch {
	case s.value == "" && s.nonce == "":
		if version == 3 && r.Header.Get(HeaderSignatureV2) != "" {
			return signature{}, fmt.Errorf("%w: only %s, which is accepted with WithSignatureV2 alone", ErrNoSignature, HeaderSignatureV2)
		}
		return signature{}, fmt.Errorf("%w: no %s", ErrNoSignature, header)
	case s.value == "":
		return signature{}, fmt.Errorf("%w: %s without %s", ErrNoSignature, nonceHeader, header)
	case s.nonce == "":
		return signature{}, fmt.Errorf("%w: %s without %s", ErrNoSignature, header, nonceHeader)
	case len(s.nonce) > MaxNonceBytes:
		return signature{}, fmt.Errorf("%w: %s of %d bytes, over %d", ErrNonceTooLong, nonceHeader, len(s.nonce), MaxNonceBytes)
	}
	return s, nil
}

// verified is what a request may pass on: its body as read, the
// parameters its signature covers, and the nonces to claim.
type verified struct {
	body     []byte
	postForm url.Values // the body's parameters
	form     url.Values // the body's, then the query's, as net/http merges them
	nonces   []string
}

// readRequest parses rawQuery, the query of the signed URL, and reads and
// parses r's body, refusing whatever would let net/http (or the handler)
// read other parameters than the signature covers.
func readRequest(r *http.Request, rawQuery string) (*verified, error) {
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: the query does not parse cleanly: %w", ErrMalformedRequest, err)
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	post, err := parseBody(r, body)
	if err != nil {
		return nil, err
	}
	form := make(url.Values, len(post)+len(query))
	for k, vs := range post {
		form[k] = append(form[k], vs...)
	}
	for k, vs := range query {
		form[k] = append(form[k], vs...)
	}
	return &verified{body: body, postForm: post, form: form}, nil
}

// readBody reads the body whole, up to MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, fmt.Errorf("%w: Content-Length %d, over %d", ErrBodyTooLarge, r.ContentLength, MaxBodyBytes)
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	r.Body.Close()
	switch {
	case len(body) > MaxBodyBytes:
		return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, MaxBodyBytes)
	case err != nil:
		return nil, fmt.Errorf("%w: reading the body: %w", ErrMalformedRequest, err)
	}
	return body, nil
}

// parseBody returns the parameters of a body the signature covers: none
// for no body or a JSON one, a form's for a form that parses cleanly.
func parseBody(r *http.Request, body []byte) (url.Values, error) {
	if len(body) == 0 {
		return url.Values{}, nil
	}
	if strings.EqualFold(r.Method, http.MethodGet) {
		// A GET's signature merges the query over the parameters: a body's
		// parameter under a query's key would not be covered.
		return nil, fmt.Errorf("%w: a GET with a body", ErrMalformedRequest)
	}
	types := r.Header.Values("Content-Type")
	if len(types) != 1 {
		return nil, fmt.Errorf("%w: a body with %d Content-Type headers", ErrUnsupportedBody, len(types))
	}
	mediaType, _, err := mime.ParseMediaType(types[0])
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: Content-Type %q: %w", ErrUnsupportedBody, types[0], err)
	case mediaType == "application/json":
		return url.Values{}, nil
	case mediaType != "application/x-www-form-urlencoded":
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedBody, mediaType)
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: the form does not parse cleanly: %w", ErrMalformedRequest, err)
	}
	return params, nil
}

// apply gives r what was verified, so that ParseForm, FormValue,
// PostFormValue, ParseMultipartForm and FormFile find it parsed already.
func (req *verified) apply(r *http.Request) {
	r.PostForm = req.postForm
	r.Form = req.form
	r.MultipartForm = &multipart.Form{Value: map[string][]string{}, File: map[string][]*multipart.FileHeader{}}
	r.Body = io.NopCloser(bytes.NewReader(req.body))
	r.ContentLength = int64(len(req.body))
}
