//go:build cgo

package gpu

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"

	"strata/shaders"
)

// pushBytes is the push-constant space every pipeline declares.
const pushBytes = 64

// A pipeline is a compute shader with its descriptor set layout: one
// storage buffer per binding, in order.
type pipeline struct {
	name      string
	bindings  int
	setLayout vk.DescriptorSetLayout
	layout    vk.PipelineLayout
	pipe      vk.Pipeline
	module    vk.ShaderModule
}

// pipelineKey names a compiled pipeline: a shader and its workgroup size
// (specialization constant 0; 0 where the shader fixes its own).
type pipelineKey struct {
	name  string
	local uint32
}

// pipeline returns the compiled pipeline of a shader, creating it on
// first use through the pipeline cache. local, when not 0, is the
// workgroup size of a shader that declares it as specialization constant 0.
func (g *Backend) pipeline(name string, bindings int, local uint32) (*pipeline, error) {
	key := pipelineKey{name, local}
	if p, ok := g.pipelines[key]; ok {
		return p, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	words := make([]uint32, len(code)/4)
	for i := range words {
		words[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	p := &pipeline{name: name, bindings: bindings}
	var module vk.ShaderModule
	r := vk.CreateShaderModule(g.dev, &vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(len(code)),
		PCode:    words,
	}, nil, &module)
	if err := vkErr("vkCreateShaderModule "+name, r); err != nil {
		return nil, err
	}
	p.module = module
	layoutBindings := make([]vk.DescriptorSetLayoutBinding, bindings)
	for i := range layoutBindings {
		layoutBindings[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			DescriptorCount: 1,
			StageFlags:      vk.ShaderStageFlags(vk.ShaderStageComputeBit),
		}
	}
	var setLayout vk.DescriptorSetLayout
	r = vk.CreateDescriptorSetLayout(g.dev, &vk.DescriptorSetLayoutCreateInfo{
		SType:        vk.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: uint32(bindings),
		PBindings:    layoutBindings,
	}, nil, &setLayout)
	if err := vkErr("vkCreateDescriptorSetLayout", r); err != nil {
		return nil, err
	}
	p.setLayout = setLayout
	var layout vk.PipelineLayout
	r = vk.CreatePipelineLayout(g.dev, &vk.PipelineLayoutCreateInfo{
		SType:                  vk.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount:         1,
		PSetLayouts:            []vk.DescriptorSetLayout{p.setLayout},
		PushConstantRangeCount: 1,
		PPushConstantRanges: []vk.PushConstantRange{{
			StageFlags: vk.ShaderStageFlags(vk.ShaderStageComputeBit), Offset: 0, Size: pushBytes}},
	}, nil, &layout)
	if err := vkErr("vkCreatePipelineLayout", r); err != nil {
		return nil, err
	}
	p.layout = layout
	stage := vk.PipelineShaderStageCreateInfo{
		SType:  vk.StructureTypePipelineShaderStageCreateInfo,
		Stage:  vk.ShaderStageComputeBit,
		Module: p.module,
		PName:  "main\x00",
	}
	if local != 0 {
		data := cBytes(binary.LittleEndian.AppendUint32(nil, local)) // C memory: Vulkan keeps the pointer
		defer cFree(data)
		stage.PSpecializationInfo = []vk.SpecializationInfo{{
			MapEntryCount: 1,
			PMapEntries:   []vk.SpecializationMapEntry{{ConstantID: 0, Offset: 0, Size: 4}},
			DataSize:      4,
			PData:         data,
		}}
	}
	pipes := make([]vk.Pipeline, 1)
	r = vk.CreateComputePipelines(g.dev, g.pipelineCache, 1, []vk.ComputePipelineCreateInfo{{
		SType:  vk.StructureTypeComputePipelineCreateInfo,
		Stage:  stage,
		Layout: p.layout,
	}}, nil, pipes)
	if err := vkErr("vkCreateComputePipelines "+name, r); err != nil {
		return nil, err
	}
	p.pipe = pipes[0]
	g.pipelines[key] = p
	return p, nil
}

func (g *Backend) destroyPipeline(p *pipeline) {
	vk.DestroyPipeline(g.dev, p.pipe, nil)
	vk.DestroyPipelineLayout(g.dev, p.layout, nil)
	vk.DestroyDescriptorSetLayout(g.dev, p.setLayout, nil)
	vk.DestroyShaderModule(g.dev, p.module, nil)
}

// cacheFile is where compiled pipelines are kept between runs: one file
// per device and driver, under the user's cache directory.
func cacheFile(opt string, info *DeviceInfo, uuid [16]byte) string {
	switch opt {
	case "-":
		return ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "strata", fmt.Sprintf("pipelines-%04x-%04x-%x.bin", info.VendorID, info.DeviceID, uuid))
	}
	return opt
}

// openPipelineCache creates the pipeline cache from the file's data, when
// there is any; a stale or foreign file is ignored by the driver.
func (g *Backend) openPipelineCache() error {
	var data []byte
	if g.cachePath != "" {
		data, _ = os.ReadFile(g.cachePath)
	}
	info := vk.PipelineCacheCreateInfo{SType: vk.StructureTypePipelineCacheCreateInfo}
	if len(data) > 0 {
		info.InitialDataSize = uint(len(data))
		info.PInitialData = unsafe.Pointer(&data[0])
	}
	var cache vk.PipelineCache
	r := vk.CreatePipelineCache(g.dev, &info, nil, &cache)
	if r != vk.Success && len(data) > 0 {
		info.InitialDataSize, info.PInitialData = 0, nil
		r = vk.CreatePipelineCache(g.dev, &info, nil, &cache)
	}
	g.pipelineCache = cache
	g.cacheLoaded = len(data)
	return vkErr("vkCreatePipelineCache", r)
}

// savePipelineCache writes the cache's data to its file.
func (g *Backend) savePipelineCache() error {
	if g.cachePath == "" || g.pipelineCache == nil {
		return nil
	}
	var size uint
	if err := vkErr("vkGetPipelineCacheData", vk.GetPipelineCacheData(g.dev, g.pipelineCache, &size, nil)); err != nil || size == 0 {
		return err
	}
	data := make([]byte, size)
	if err := vkErr("vkGetPipelineCacheData", vk.GetPipelineCacheData(g.dev, g.pipelineCache, &size, unsafe.Pointer(&data[0]))); err != nil {
		return err
	}
	if int(size) == g.cacheLoaded {
		return nil // nothing new
	}
	if err := os.MkdirAll(filepath.Dir(g.cachePath), 0o755); err != nil {
		return err
	}
	tmp := g.cachePath + ".tmp"
	if err := os.WriteFile(tmp, data[:size], 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, g.cachePath)
}
